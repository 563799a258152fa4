/**
 * Counter-based randomness: every random decision in the data pipeline is a pure function of
 * (seed, epoch, index, …), so a resumed or re-run epoch sees exactly the same crops, flips and order
 * no matter which batches were skipped or in which order they were produced.
 */

/** Hashes integers into one 32-bit value (murmur3-style finalizer per word). */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) {
    const low = value >>> 0;
    // seeds beyond 2^32 must not collide with their low word
    const high = Math.floor(value / 0x100000000) >>> 0;
    for (const word of [low, high]) {
      h ^= word;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** mulberry32: a small, fast generator of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(rng: () => number, lowInclusive: number, highInclusive: number): number {
  return lowInclusive + Math.floor(rng() * (highInclusive - lowInclusive + 1));
}

/** Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, rng: () => number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = order[i];
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/** Distinct stream tags so shuffling and augmentation never draw from the same sequence. */
export const STREAM = { shuffle: 1, augment: 2, synthetic: 3 } as const;
