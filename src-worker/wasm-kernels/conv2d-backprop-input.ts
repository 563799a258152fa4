import * as tf from '@tensorflow/tfjs';
import { assertDyShape, convGeometry, explicitPad, type AxisGeometry, type ConvBackpropAttrs } from './conv-geometry';
import { withKernelRunner, type DisposingBackend, type WasmKernelRunner } from './kernel-runner';

const KERNEL = 'Conv2DBackpropInput';

/**
 * One polyphase component along an axis: the input positions i ≡ phase (mod stride). Each receives
 * gradient only from the filter taps k ≡ (phase + padBefore) (mod stride), so it is a stride-1
 * convolution of dy with those taps, flipped; no inserted zeros are ever multiplied.
 */
interface AxisPhase {
  /** Taps of the sub-filter; 0 when the kernel is narrower than the stride and skips this phase. */
  taps: number;
  /** The first filter tap the phase uses; the others follow `stride` apart. */
  tapOffset: number;
  /** dy positions the sub-convolution reads, and the zeros it needs around them. */
  dyStart: number;
  dyCount: number;
  padBefore: number;
  padAfter: number;
}

/** Every phase produces this many positions, so the phases interleave into a regular grid. */
function phaseLength(axis: AxisGeometry): number {
  return Math.ceil(axis.inSize / axis.stride);
}

function axisPhase(axis: AxisGeometry, phase: number): AxisPhase {
  const { kernel, stride, padBefore, outSize } = axis;
  const tapOffset = (phase + padBefore) % stride;
  const taps = Math.max(0, Math.ceil((kernel - tapOffset) / stride));
  // dx[phase + stride·q] = Σ_t dy[q + dyShift − t] · w[tapOffset + stride·t]
  const dyShift = Math.floor((phase + padBefore) / stride);
  const firstRead = dyShift - (taps - 1);
  const endRead = phaseLength(axis) - 1 + dyShift + 1; // exclusive
  const dyStart = Math.max(0, firstRead);
  const dyEnd = Math.min(outSize, endRead);
  return {
    taps,
    tapOffset,
    dyStart,
    dyCount: Math.max(0, dyEnd - dyStart),
    padBefore: dyStart - firstRead,
    padAfter: endRead - dyEnd,
  };
}

/**
 * The sub-filter of one phase, [r.taps, c.taps, O, C]: the phase's taps of the in/out-swapped filter in
 * reverse order (a correlation with dy needs the filter flipped). Built in JS from whole [O, C] blocks:
 * filters are small, and wasm's Reverse and StridedSlice are generic per-element loops.
 */
function phaseFilter(run: WasmKernelRunner, swappedValues: Float32Array, filterShape: number[], r: AxisPhase, c: AxisPhase, sh: number, sw: number): tf.TensorInfo {
  const [, kw, inChannels, outChannels] = filterShape as [number, number, number, number];
  const block = inChannels * outChannels;
  const values = new Float32Array(r.taps * c.taps * block);
  for (let i = 0; i < r.taps; i++) {
    const row = r.tapOffset + sh * (r.taps - 1 - i);
    for (let j = 0; j < c.taps; j++) {
      const col = c.tapOffset + sw * (c.taps - 1 - j);
      const from = (row * kw + col) * block;
      values.set(swappedValues.subarray(from, from + block), (i * c.taps + j) * block);
    }
  }
  return run.fromValues(values, [r.taps, c.taps, outChannels, inChannels]);
}

/** dx for the positions (rowPhase + sh·p, colPhase + sw·q): a stride-1 conv of dy with a flipped sub-filter. */
function phaseGradient(
  run: WasmKernelRunner,
  dy: tf.TensorInfo,
  swappedValues: Float32Array,
  filterShape: number[],
  rows: AxisGeometry,
  cols: AxisGeometry,
  r: AxisPhase,
  c: AxisPhase,
): tf.TensorInfo {
  const [batch, , , outChannels] = dy.shape as [number, number, number, number];
  const inChannels = filterShape[2];
  const outShape = [batch, phaseLength(rows), phaseLength(cols), inChannels];
  if (r.taps === 0 || c.taps === 0 || r.dyCount === 0 || c.dyCount === 0) return run.zeros(outShape);
  const dyPart = run.sliceIfNeeded(dy, [0, r.dyStart, c.dyStart, 0], [batch, r.dyCount, c.dyCount, outChannels]);
  const subFilter = phaseFilter(run, swappedValues, filterShape, r, c, rows.stride, cols.stride);
  return run.run('Conv2D', { x: dyPart, filter: subFilter }, {
    strides: [1, 1],
    pad: explicitPad([r.padBefore, r.padAfter], [c.padBefore, c.padAfter]),
    dilations: [1, 1],
    dataFormat: 'NHWC',
  });
}

/** Puts phase (a, b)'s value at position (a + sh·p, b + sw·q); `phases` is row-phase major. */
function interleavePhases(run: WasmKernelRunner, phases: tf.TensorInfo[], sh: number, sw: number): tf.TensorInfo {
  const [batch, rowsPerPhase, colsPerPhase, channels] = phases[0].shape as [number, number, number, number];
  // Concatenated on channels the layout is [N·P, Q, sh, sw·C]; dx wants [N·P, sh, Q, sw·C]. One 4-D
  // transpose with contiguous sw·C runs does it (wasm's DepthToSpace is a scalar loop, ~15× slower).
  const stacked = run.run('Concat', phases, { axis: 3 });
  const split = run.reshape(stacked, [batch * rowsPerPhase, colsPerPhase, sh, sw * channels]);
  const ordered = run.transpose(split, [0, 2, 1, 3]);
  return run.reshape(ordered, [batch, rowsPerPhase * sh, colsPerPhase * sw, channels]);
}

/**
 * dx of a forward conv, as stride² stride-1 forward convolutions of dy (one per polyphase component)
 * with the spatially flipped, in/out-swapped filter, interleaved back. XNNPACK's forward conv runs
 * these near its full speed; the built-in wasm Conv2DBackpropInput is a plain loop about 9× slower.
 */
function conv2dBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as ConvBackpropAttrs & { inputShape?: number[] };
  if (attrs.inputShape == null) throw new Error(`${KERNEL} (wasm): attr inputShape is required`);
  const g = convGeometry(KERNEL, attrs.inputShape, filter.shape, attrs);
  assertDyShape(KERNEL, dy.shape, g);
  const { rows, cols } = g;

  return withKernelRunner(args.backend as DisposingBackend, (run) => {
    if (g.batch === 0 || rows.outSize === 0 || cols.outSize === 0) return run.zeros(attrs.inputShape!);
    const swappedValues = run.read(run.transpose(filter, [0, 1, 3, 2])); // [kh, kw, O, C]
    const phases: tf.TensorInfo[] = [];
    for (let a = 0; a < rows.stride; a++) {
      for (let b = 0; b < cols.stride; b++) {
        const r = axisPhase(rows, a);
        const c = axisPhase(cols, b);
        phases.push(phaseGradient(run, dy, swappedValues, filter.shape, rows, cols, r, c));
      }
    }
    const dxGrid = phases.length === 1 ? phases[0] : interleavePhases(run, phases, rows.stride, cols.stride);
    // The grid rounds each axis up to a whole number of strides.
    return run.sliceIfNeeded(dxGrid, [0, 0, 0, 0], attrs.inputShape!);
  });
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput,
};
