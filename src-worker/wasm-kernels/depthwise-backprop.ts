import * as tf from '@tensorflow/tfjs';
import type { ConvBackpropAttrs } from './conv-geometry';
import { withKernelRunner, type DisposingBackend } from './kernel-runner';

const INPUT_KERNEL = 'DepthwiseConv2dNativeBackpropInput';
const FILTER_KERNEL = 'DepthwiseConv2dNativeBackpropFilter';

/** The forward depthwise conv's pads, as tfjs computes them, after checking it is one these kernels handle. */
function depthwiseGeometry(kernel: string, xShape: readonly number[], filterShape: readonly number[], attrs: ConvBackpropAttrs) {
  if (xShape.length !== 4 || filterShape.length !== 4) {
    throw new Error(`${kernel} (wasm): input and filter must be rank 4, got [${xShape.join(', ')}] and [${filterShape.join(', ')}]`);
  }
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') throw new Error(`${kernel} (wasm): only NHWC is supported, got ${attrs.dataFormat}`);
  const strides = attrs.strides ?? 1;
  const dilations = attrs.dilations ?? 1;
  const unit = (v: number | [number, number]) => (typeof v === 'number' ? v === 1 : v.every((d) => d === 1));
  // ConvNeXt's depthwise convs are stride 1, multiplier 1; strided ones would need a dilated dy
  if (!unit(strides)) throw new Error(`${kernel} (wasm): strides ${JSON.stringify(strides)} are not supported, only 1`);
  if (!unit(dilations)) throw new Error(`${kernel} (wasm): dilations ${JSON.stringify(dilations)} are not supported, only 1`);
  if (filterShape[3] !== 1) throw new Error(`${kernel} (wasm): channel multiplier ${filterShape[3]} is not supported, only 1`);
  if (xShape[3] !== filterShape[2]) {
    throw new Error(`${kernel} (wasm): depth of input (${xShape[3]}) must match input depth for filter ${filterShape[2]}`);
  }
  if (attrs.pad == null) throw new Error(`${kernel} (wasm): attr pad is required`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    1, 1, attrs.pad, attrs.dimRoundingMode, true,
  );
  return { info, pad: info.padInfo };
}

const explicit = (top: number, bottom: number, left: number, right: number): tf.backend_util.ExplicitPadding =>
  [[0, 0], [top, bottom], [left, right], [0, 0]];

/**
 * dx = the depthwise correlation of dy with the filter turned 180°, padded by k − 1 − p on each side:
 * one forward depthwise conv, which XNNPACK runs.
 */
function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as ConvBackpropAttrs & { inputShape?: number[] };
  if (attrs.inputShape == null) throw new Error(`${INPUT_KERNEL} (wasm): attr inputShape is required`);
  const { info, pad } = depthwiseGeometry(INPUT_KERNEL, attrs.inputShape, filter.shape, attrs);
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const pads = [kh - 1 - pad.top, kh - 1 - pad.bottom, kw - 1 - pad.left, kw - 1 - pad.right] as const;
  if (pads.some((p) => p < 0)) throw new Error(`${INPUT_KERNEL} (wasm): padding larger than kernel − 1 is not supported`);
  return withKernelRunner(args.backend as DisposingBackend, (run) => {
    const flipped = run.run('Reverse', { x: filter }, { dims: [0, 1] });
    return run.run('DepthwiseConv2dNative', { x: dy, filter: flipped }, {
      strides: [1, 1], pad: explicit(...pads), dilations: [1, 1], dataFormat: 'NHWC',
    });
  });
}

/**
 * dW[i, j, c] = Σ_{n, p, q} xPadded[n, p + i, q + j, c] · dy[n, p, q, c]: a depthwise correlation in which every
 * (image, channel) pair is a channel of one image and dy is the filter; the images are summed afterwards.
 */
function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as ConvBackpropAttrs & { filterShape?: number[] };
  if (attrs.filterShape == null) throw new Error(`${FILTER_KERNEL} (wasm): attr filterShape is required`);
  const { info, pad } = depthwiseGeometry(FILTER_KERNEL, x.shape, attrs.filterShape, attrs);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [oh, ow] = [info.outHeight, info.outWidth];
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  return withKernelRunner(args.backend as DisposingBackend, (run) => {
    const xAsChannels = run.reshape(run.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c]);
    const dyAsFilter = run.reshape(run.transpose(dy, [1, 2, 0, 3]), [oh, ow, n * c, 1]);
    const perImage = run.run('DepthwiseConv2dNative', { x: xAsChannels, filter: dyAsFilter }, {
      strides: [1, 1], pad: explicit(pad.top, pad.bottom, pad.left, pad.right), dilations: [1, 1], dataFormat: 'NHWC',
    });
    const summed = run.run('Sum', { x: run.reshape(perImage, [kh, kw, n, c]) }, { axis: [2], keepDims: false });
    return run.reshape(summed, [kh, kw, c, 1]);
  });
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: INPUT_KERNEL,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput,
};

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: FILTER_KERNEL,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};
