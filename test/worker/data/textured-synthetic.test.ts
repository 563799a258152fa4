import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageSet } from '../../../src-worker/data/image-set';
import {
  classTexture, ensureTexturedSyntheticCifar, generateTexturedSplit, openTexturedSynthetic, TEXTURED_CLASSES,
} from '../../../src-worker/data/textured-synthetic';
import { tempDir } from './helpers';

const SIDE = 32;
const IMAGE = SIDE * SIDE * 3;

/** Power of the image's colour channels at one wave vector (a single DFT coefficient per channel). */
function powerAt(set: ImageSet, index: number, kx: number, ky: number): number {
  let power = 0;
  for (let ch = 0; ch < 3; ch++) {
    let re = 0;
    let im = 0;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const v = set.images[index * IMAGE + 3 * (y * SIDE + x) + ch];
        re += v * Math.cos(kx * x + ky * y);
        im -= v * Math.sin(kx * x + ky * y);
      }
    }
    power += re * re + im * im;
  }
  return power;
}

/** Guesses the class whose grating carries the most power: a hand-made oriented-energy classifier. */
function orientedEnergyGuess(set: ImageSet, index: number): number {
  let best = -1;
  let bestPower = -Infinity;
  for (let c = 0; c < TEXTURED_CLASSES; c++) {
    const { angle, frequency } = classTexture(c);
    const k = 2 * Math.PI * frequency;
    const power = powerAt(set, index, k * Math.cos(angle), k * Math.sin(angle));
    if (power > bestPower) [best, bestPower] = [c, power];
  }
  return best;
}

function nearestClassMeanAccuracy(train: ImageSet, test: ImageSet): number {
  const means = Array.from({ length: TEXTURED_CLASSES }, () => new Float64Array(IMAGE));
  const counts = new Array<number>(TEXTURED_CLASSES).fill(0);
  for (let i = 0; i < train.count; i++) {
    const label = train.labels[i];
    counts[label]++;
    for (let d = 0; d < IMAGE; d++) means[label][d] += train.images[i * IMAGE + d];
  }
  means.forEach((m, c) => m.forEach((v, d) => (m[d] = v / counts[c])));
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    let best = -1;
    let bestDistance = Infinity;
    for (let c = 0; c < TEXTURED_CLASSES; c++) {
      let distance = 0;
      for (let d = 0; d < IMAGE; d++) distance += (test.images[i * IMAGE + d] - means[c][d]) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [c, distance];
    }
    if (best === test.labels[i]) correct++;
  }
  return correct / test.count;
}

describe('textured synthetic data set', () => {
  it('is deterministic in its seed: the same bytes for the same seed, other bytes for another', () => {
    const params = { seed: 3, trainSize: 30, testSize: 10 };
    const a = generateTexturedSplit(params, 'train');
    const b = generateTexturedSplit(params, 'train');
    const other = generateTexturedSplit({ ...params, seed: 4 }, 'train');
    const test = generateTexturedSplit(params, 'test');
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(Buffer.from(a.images).equals(Buffer.from(other.images))).toBe(false);
    expect(Buffer.from(a.images.subarray(0, 10 * IMAGE)).equals(Buffer.from(test.images))).toBe(false);
  });

  it('has no constant 3×3 window in any channel, and never saturates a pixel', () => {
    const set = generateTexturedSplit({ seed: 0, trainSize: 200, testSize: 1 }, 'train');
    let flat = 0;
    for (let i = 0; i < set.count; i++) {
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y + 3 <= SIDE; y++) {
          for (let x = 0; x + 3 <= SIDE; x++) {
            const first = set.images[i * IMAGE + 3 * (y * SIDE + x) + ch];
            let same = true;
            for (let dy = 0; dy < 3 && same; dy++) {
              for (let dx = 0; dx < 3 && same; dx++) same = set.images[i * IMAGE + 3 * ((y + dy) * SIDE + x + dx) + ch] === first;
            }
            if (same) flat++;
          }
        }
      }
    }
    expect(flat).toBe(0);
    expect(set.images.reduce((m, v) => Math.min(m, v), 255)).toBeGreaterThan(0);
    expect(set.images.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(255);
  });

  it('has balanced labels', () => {
    const set = generateTexturedSplit({ seed: 0, trainSize: 100, testSize: 1 }, 'train');
    const counts = new Array<number>(TEXTURED_CLASSES).fill(0);
    set.labels.forEach((label) => counts[label]++);
    expect(counts).toEqual(new Array<number>(TEXTURED_CLASSES).fill(10));
  });

  it('is learnable from texture alone: oriented energy finds the class, raw-pixel class means do not', () => {
    const train = generateTexturedSplit({ seed: 0, trainSize: 500, testSize: 200 }, 'train');
    const test = generateTexturedSplit({ seed: 0, trainSize: 500, testSize: 200 }, 'test');
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (orientedEnergyGuess(test, i) === test.labels[i]) correct++;
    expect(correct / test.count).toBeGreaterThan(0.6);
    // colour and position carry no class information, so averaging pixels per class leaves near chance (10 %)
    expect(nearestClassMeanAccuracy(train, test)).toBeLessThan(0.2);
  });

  it('writes the CIFAR-10 layout once into the cache and opens as a 10-class data set', async () => {
    const cacheDir = await tempDir();
    const params = { seed: 1, trainSize: 50, testSize: 20 };
    const dir = await ensureTexturedSyntheticCifar(params, cacheDir);
    expect(await readdir(cacheDir)).toEqual(['textured-v2-seed1-train50-test20']);
    const files = await readdir(join(dir, 'cifar-10-batches-bin'));
    const sizes = await Promise.all(files.sort().map(async (f) => (await readFile(join(dir, 'cifar-10-batches-bin', f))).length));
    expect(sizes).toEqual([10, 10, 10, 10, 10, 20].map((n) => n * 3073));
    const ds = await openTexturedSynthetic({ normalize: true, cacheDir, syntheticSeed: 1, syntheticTrainSize: 50, syntheticTestSize: 20 });
    expect([ds.numClasses, ds.trainSize, ds.testSize, ...ds.imageShape]).toEqual([10, 50, 20, 32, 32, 3]);
    expect(await readdir(cacheDir)).toEqual(['textured-v2-seed1-train50-test20']);
    const batch = await ds.getBatch('train', Int32Array.from({ length: 50 }, (_, i) => i), { augment: false, seed: 0 });
    const mean = batch.x.reduce((s, v) => s + v, 0) / batch.x.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
  });

  it('rejects a bad size with a message naming it', async () => {
    await expect(ensureTexturedSyntheticCifar({ seed: 0, trainSize: 2, testSize: 5 }, await tempDir())).rejects.toThrow(/syntheticTrainSize must be an integer >= 5, got 2/);
  });
});
