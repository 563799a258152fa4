import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './kernel-runner';

const KERNEL = 'MaxPoolGrad';

/**
 * dx of a 2-D max pool: each window's dy goes to its first maximal input (row-major), as on the cpu
 * backend. Replaces the wasm backend's own kernel, which drops the gradient of every window whose
 * values are all negative (tfjs 4.22), which is common after a normalisation layer. One pass in JS over
 * views of the wasm heap, channels innermost so consecutive reads are adjacent.
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as {
    filterSize?: number | [number, number];
    strides?: number | [number, number];
    pad?: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (attrs.filterSize == null || attrs.strides == null || attrs.pad == null) {
    throw new Error(`${KERNEL} (wasm): attrs filterSize, strides and pad are required`);
  }
  if (input.shape.length !== 4) throw new Error(`${KERNEL} (wasm): input must be rank 4 (NHWC), got [${input.shape.join(', ')}]`);
  if (input.dtype !== 'float32') throw new Error(`${KERNEL} (wasm): input must be float32, got ${input.dtype}`);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const expected = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (expected.some((d, i) => d !== dy.shape[i])) {
    throw new Error(`${KERNEL} (wasm): dy has shape [${dy.shape.join(', ')}] but the pool produces [${expected.join(', ')}]`);
  }
  const backend = args.backend as HeapBackend;
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const out = backend.makeOutput([...input.shape], 'float32');
  // Views of the heap, taken after the only allocation (a grown heap detaches older views): copying x and dy
  // out and dx in cost more than the pass itself.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const dyValues = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  let dyAt = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowStart = oh * strideHeight - info.padInfo.top;
      const rowFrom = Math.max(0, rowStart);
      const rowTo = Math.min(inHeight, rowStart + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const colStart = ow * strideWidth - info.padInfo.left;
        const colFrom = Math.max(0, colStart);
        const colTo = Math.min(inWidth, colStart + filterWidth);
        const corner = ((b * inHeight + rowFrom) * inWidth + colFrom) * channels;
        const rowStep = inWidth * channels;
        if (rowTo - rowFrom === 2 && colTo - colFrom === 2) {
          // Whole 2×2 windows (the KNResNets' pools), unrolled: the general scan's two-step inner loops
          // cost more than the comparisons.
          for (let c = 0, at = corner; c < channels; c++, at++, dyAt++) {
            // `v > best` as in the general scan: the first maximum wins, NaN never does.
            let best = -Infinity;
            let bestAt = -1;
            let v = x[at];
            if (v > best) { best = v; bestAt = at; }
            v = x[at + channels]!;
            if (v > best) { best = v; bestAt = at + channels; }
            v = x[at + rowStep]!;
            if (v > best) { best = v; bestAt = at + rowStep; }
            v = x[at + rowStep + channels]!;
            if (v > best) bestAt = at + rowStep + channels;
            if (bestAt >= 0) dx[bestAt] += dyValues[dyAt];
          }
          continue;
        }
        // One channel at a time, in scalars: consecutive channels read adjacent floats, and the window
        // scan needs no per-window arrays to reset.
        for (let c = 0; c < channels; c++, dyAt++) {
          let best = -Infinity;
          let bestAt = -1;
          for (let ih = rowFrom, rowBase = corner + c; ih < rowTo; ih++, rowBase += rowStep) {
            for (let iw = colFrom, at = rowBase; iw < colTo; iw++, at += channels) {
              const v = x[at];
              if (v > best) {
                best = v;
                bestAt = at;
              }
            }
          }
          if (bestAt >= 0) dx[bestAt] += dyValues[dyAt];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
};
