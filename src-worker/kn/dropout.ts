import * as tf from '@tensorflow/tfjs';

/** Folds all 64 bits of a JS number into a 32-bit stream key, so seeds like 1e12 + 1 and 1e12 + 2 differ. */
function seedKey(seed: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, seed);
  return mix32(view.getUint32(0) ^ mix32(view.getUint32(4) + 0x9e3779b9));
}

/** murmur3's finalizer: a bijection on 32-bit integers with full avalanche. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Entry i keeps when mix32(key + (i+1)·golden) >= threshold. mix32 is inlined and kept in int32 (the unsigned
 * comparison becomes a signed one after flipping the top bit): with `>>> 0` results V8 falls back to doubles.
 */
function fillMask(values: Float32Array, key: number, threshold: number, keep: number): void {
  const signedThreshold = (threshold - 2147483648) | 0;
  const n = values.length;
  let counter = key | 0;
  for (let i = 0; i < n; i++) {
    counter = (counter + 0x9e3779b9) | 0;
    let h = counter ^ (counter >>> 16);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    values[i] = (h ^ -2147483648) >= signedThreshold ? keep : 0;
  }
}

/** The part of the wasm backend that lets us write a new tensor's values in place. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * Inverted-dropout mask: each entry is 0 with probability `rate`, else 1 / (1 - rate).
 * Entry i is a hash of (seed, i), a counter-based stream: the mask depends only on the seed and the shape,
 * on every backend, and costs one multiply-xorshift chain per entry (tf.randomUniform's per-value seedrandom
 * calls were several times slower on activations of millions of entries). On wasm the mask is written
 * straight into the backend's heap: a fresh JS Float32Array of an activation's size costs more to allocate
 * (page faults on tens of MB) than filling it, and tf.tensor would then copy it.
 */
export function dropoutMask(shape: readonly number[], rate: number, seed?: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const key = seedKey(seed ?? Math.random() * 2 ** 52);
  // Drop when the 32-bit draw falls below rate * 2^32: exact to 2^-32 in the rate.
  const threshold = Math.round(rate * 4294967296);
  const keep = Math.fround(1 / (1 - rate));
  if (tf.getBackend() === 'wasm' && size > 0) {
    const backend = tf.backend() as unknown as HeapBackend;
    const info = backend.makeOutput(shape.slice(), 'float32');
    // Viewed only after the allocation: growing the heap detaches earlier views.
    fillMask(backend.typedArrayFromHeap(info), key, threshold, keep);
    return tf.engine().makeTensorFromTensorInfo(info, tf.backend());
  }
  const values = new Float32Array(size);
  fillMask(values, key, threshold, keep);
  return tf.tensor(values, shape.slice(), 'float32');
}
