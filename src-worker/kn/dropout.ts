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
 * Inverted-dropout mask: each entry is 0 with probability `rate`, else 1 / (1 - rate).
 * Entry i is a hash of (seed, i), a counter-based stream: the mask depends only on the seed and the shape,
 * on every backend, and costs one multiply-xorshift chain per entry (tf.randomUniform's per-value seedrandom
 * calls were several times slower on activations of millions of entries).
 */
export function dropoutMask(shape: readonly number[], rate: number, seed?: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const key = seedKey(seed ?? Math.random() * 2 ** 52);
  // Drop when the 32-bit draw falls below rate * 2^32: exact to 2^-32 in the rate.
  const threshold = Math.round(rate * 4294967296);
  const keep = 1 / (1 - rate);
  const values = new Float32Array(size);
  let counter = key;
  for (let i = 0; i < size; i++) {
    counter = (counter + 0x9e3779b9) >>> 0;
    values[i] = mix32(counter) >= threshold ? keep : 0;
  }
  return tf.tensor(values, shape.slice(), 'float32');
}
