import seedrandom from 'seedrandom';

/**
 * Poisson sampling: each of the `size` examples joins the logical batch independently with probability q,
 * the sampling the RDP accountant's amplification bound assumes (a fixed-size shuffled batch is not).
 * Deterministic in (seed, step), so a resumed run draws the same batches.
 */
export function poissonSample(size: number, sampleRate: number, seed: number, step: number): Int32Array {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`poissonSample: size must be a positive integer, got ${size}`);
  if (!(sampleRate > 0 && sampleRate <= 1)) throw new RangeError(`poissonSample: sampleRate must be in (0, 1], got ${sampleRate}`);
  const rng = seedrandom(`dp-poisson:${seed}:${step}`);
  const chosen: number[] = [];
  for (let i = 0; i < size; i++) if (rng() < sampleRate) chosen.push(i);
  return Int32Array.from(chosen);
}
