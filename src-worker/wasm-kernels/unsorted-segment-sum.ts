import * as tf from '@tensorflow/tfjs';
import type { DisposingBackend } from './kernel-runner';

const KERNEL = 'UnsortedSegmentSum';

/**
 * out[s, ...] = Σ_{i: segmentIds[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped, as in
 * TensorFlow. The wasm backend lacks it, and it is tf.gather's gradient. One pass in JS over
 * contiguous rows: it moves as much data as the gather did.
 */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs ?? {}).numSegments as number;
  const backend = args.backend as DisposingBackend;
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`${KERNEL} (wasm): numSegments must be a non-negative integer, got ${numSegments}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`${KERNEL} (wasm): x must be float32 or int32, got ${x.dtype}`);
  const idRank = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `${KERNEL} (wasm): segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of x shape [${x.shape.join(', ')}]`,
    );
  }
  const rowShape = x.shape.slice(idRank);
  const rowSize = tf.util.sizeFromShape(rowShape);
  const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
  const values = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const sums = x.dtype === 'int32' ? new Int32Array(numSegments * rowSize) : new Float32Array(numSegments * rowSize);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let k = 0; k < rowSize; k++) sums[to + k] += values[from + k];
  }
  return backend.makeOutput([numSegments, ...rowShape], x.dtype, undefined, sums as Float32Array);
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: KERNEL,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
