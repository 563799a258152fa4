import * as tf from '@tensorflow/tfjs';
import { assertDyShape, convGeometry, explicitPad, type AxisGeometry, type ConvBackpropAttrs, type ConvGeometry } from './conv-geometry';
import { withKernelRunner, type DisposingBackend, type WasmKernelRunner } from './kernel-runner';

const KERNEL = 'Conv2DBackpropFilter';

/** Input rows the forward conv actually reads (from position 0), and the zeros it reads after them. */
function readExtent(axis: AxisGeometry): { used: number; padAfter: number } {
  const lastRead = (axis.outSize - 1) * axis.stride + axis.kernel - axis.padBefore; // exclusive, may pass inSize
  return { used: Math.min(axis.inSize, lastRead), padAfter: Math.max(0, lastRead - axis.inSize) };
}

/** A 1×1, stride-1, unpadded conv: every input pixel meets every output pixel once. */
function isPlainMatMul(g: ConvGeometry): boolean {
  const plain = (a: AxisGeometry) => a.kernel === 1 && a.stride === 1 && a.padBefore === 0 && a.outSize === a.inSize;
  return plain(g.rows) && plain(g.cols);
}

/**
 * dW = xᵀ·dy over all pixels, for 1×1 stride-1 convs. XNNPACK's GEMM does this 1.5–4× faster than
 * the conv form below. Its left operand must be transposed first (a 2-D transpose: wasm's 4-D one is
 * slower); the measured faster order transposes whichever of x and dy has fewer channels.
 */
function plainMatMulGradient(run: WasmKernelRunner, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const pixels = g.batch * g.rows.inSize * g.cols.inSize;
  const x2d = run.reshape(x, [pixels, g.inChannels]);
  const dy2d = run.reshape(dy, [pixels, g.outChannels]);
  const matMul = (a: tf.TensorInfo, b: tf.TensorInfo) =>
    run.run('BatchMatMul', { a: run.transpose(a, [1, 0]), b }, { transposeA: false, transposeB: false });
  const dw = g.inChannels <= g.outChannels ? matMul(x2d, dy2d) : run.transpose(matMul(dy2d, x2d), [1, 0]);
  return run.reshape(dw, [1, 1, g.inChannels, g.outChannels]);
}

/**
 * dW[i, j, c, o] = Σ_{n, p, q} xPadded[n, p·s + i, q·s + j, c] · dy[n, p, q, o]. That is a forward
 * convolution in which the input channels play the batch ([C, H, W, N]), the batch plays the channels,
 * and dy ([H', W', N, O]) is the filter, dilated by the forward stride. Its output [C, kh, kw, O] needs
 * one transpose to become [kh, kw, C, O]. XNNPACK runs it at 1.4–2× the forward conv's time (its GEMM
 * sees a long reduction in runs of only N floats); folding columns into channels or splitting the
 * reduction into row blocks measured no faster.
 */
function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as ConvBackpropAttrs & { filterShape?: number[] };
  if (attrs.filterShape == null) throw new Error(`${KERNEL} (wasm): attr filterShape is required`);
  const g = convGeometry(KERNEL, x.shape, attrs.filterShape, attrs);
  assertDyShape(KERNEL, dy.shape, g);
  const [kh, kw, inC, outC] = attrs.filterShape as [number, number, number, number];

  return withKernelRunner(args.backend as DisposingBackend, (run) => {
    const rows = readExtent(g.rows);
    const cols = readExtent(g.cols);
    const emptyGradient = rows.used <= 0 || cols.used <= 0 || g.batch === 0 || g.rows.outSize === 0 || g.cols.outSize === 0;
    if (emptyGradient) return run.zeros([kh, kw, inC, outC]); // every window lies in padding
    if (isPlainMatMul(g)) return plainMatMulGradient(run, x, dy, g);
    // XNNPACK takes no negative pads: trailing input never read by a window is cut instead.
    const xUsed = run.sliceIfNeeded(x, [0, 0, 0, 0], [g.batch, rows.used, cols.used, inC]);
    const xByChannel = run.transpose(xUsed, [3, 1, 2, 0]);
    const dyAsFilter = run.transpose(dy, [1, 2, 0, 3]);
    const dwByChannel = run.run('Conv2D', { x: xByChannel, filter: dyAsFilter }, {
      strides: [1, 1],
      pad: explicitPad([g.rows.padBefore, rows.padAfter], [g.cols.padBefore, cols.padAfter]),
      dilations: [g.rows.stride, g.cols.stride],
      dataFormat: 'NHWC',
    });
    return run.transpose(dwByChannel, [1, 2, 0, 3]);
  });
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter,
};
