import { permutation } from './random';

/**
 * torchvision's RASampler (references/classification/sampler.py) for one process: a permutation of the set, each
 * index repeated `repetitions` times in a row (each copy gets its own augmentation), cut to
 * ⌊N / 256⌋ · 256 samples so an epoch takes as many steps as without repetition, on a round multiple of 256.
 */
export function repeatedAugmentationOrder(size: number, repetitions: number, rng: () => number): Int32Array {
  if (!(Number.isInteger(repetitions) && repetitions >= 1)) throw new Error(`repeatedAugmentationOrder: repetitions must be a positive integer, got ${repetitions}`);
  // torchvision's sampler would yield an empty epoch for fewer than 256 samples
  if (size < 256) throw new Error(`repeatedAugmentationOrder: the repeated-augmentation sampler needs at least 256 training samples, got ${size}`);
  const order = permutation(size, rng);
  const selected = Math.floor(size / 256) * 256;
  const out = new Int32Array(selected);
  for (let i = 0; i < selected; i++) out[i] = order[Math.floor(i / repetitions)] ?? 0;
  return out;
}
