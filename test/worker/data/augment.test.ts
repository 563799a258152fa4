import { describe, expect, it } from 'vitest';
import { openDataset, type Batch, type Dataset } from '../../../src-worker/data';
import { writeImage } from '../../../src-worker/data/augment';
import { byteTables } from '../../../src-worker/data/normalization';
import { noisePixel, tempDir, writeCifar10 } from './helpers';

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

async function noiseCifar(normalize: boolean): Promise<Dataset> {
  const dir = await tempDir();
  await writeCifar10(dir, [13, 13, 13, 13, 12], 8, noisePixel);
  return openDataset({ dataset: 'cifar10', dataDir: dir, normalize });
}

function imageOf(batch: Batch, b: number): Float32Array {
  return batch.x.subarray(b * 3072, (b + 1) * 3072);
}

/** Every (shift, flip) of `source` inside 4-pixel zero padding that reproduces `out` exactly. */
function matchingCrops(source: Float32Array, out: Float32Array, padValue: number[]): { dy: number; dx: number; flip: boolean }[] {
  const matches = [];
  for (let dy = -4; dy <= 4; dy++)
    for (let dx = -4; dx <= 4; dx++)
      for (const flip of [false, true]) {
        let same = true;
        for (let y = 0; y < 32 && same; y++)
          for (let x = 0; x < 32 && same; x++) {
            const sy = y + dy;
            const sx = (flip ? 31 - x : x) + dx;
            const inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
            for (let c = 0; c < 3 && same; c++) {
              const expected = inside ? source[(sy * 32 + sx) * 3 + c] : padValue[c];
              same = out[(y * 32 + x) * 3 + c] === expected;
            }
          }
        if (same) matches.push({ dy, dx, flip });
      }
  return matches;
}

describe('CIFAR-style augmentation', () => {
  it('is a shift of at most 4 pixels into zero padding, sometimes mirrored', async () => {
    for (const normalize of [false, true]) {
      const ds = await noiseCifar(normalize);
      const plain = await ds.getBatch('train', all(64), { augment: false, seed: 0 });
      const augmented = await ds.getBatch('train', all(64), { augment: true, seed: 3, epoch: 1 });
      // torchvision pads the 8-bit image with 0 before normalising: the padding is −mean/std, not 0
      const padValue = normalize ? [-0.4914 / 0.247, -0.4822 / 0.2435, -0.4465 / 0.2616].map((v) => Math.fround(v)) : [0, 0, 0];
      const found = Array.from({ length: 64 }, (_, b) => matchingCrops(imageOf(plain, b), imageOf(augmented, b), padValue));
      found.forEach((matches) => expect(matches).toHaveLength(1));
      const crops = found.map((m) => m[0]);
      expect(crops.some((c) => c.flip)).toBe(true);
      expect(crops.some((c) => !c.flip)).toBe(true);
      expect(new Set(crops.map((c) => `${c.dy},${c.dx}`)).size).toBeGreaterThan(20);
      expect(crops.some((c) => Math.abs(c.dy) === 4 || Math.abs(c.dx) === 4)).toBe(true);
    }
  });

  it('mirrors columns when flipping without a shift', () => {
    const src = Uint8Array.from({ length: 4 * 5 * 3 }, (_, i) => (i * 37) & 255);
    const out = new Float32Array(src.length);
    writeImage(src, 0, [4, 5, 3], out, 0, byteTables(3, null), { dy: 0, dx: 0, flip: true });
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 5; x++)
        for (let c = 0; c < 3; c++) expect(out[(y * 5 + x) * 3 + c]).toBeCloseTo(src[(y * 5 + (4 - x)) * 3 + c] / 255, 6);
  });

  it('is deterministic in (seed, epoch, index) and changes with the epoch', async () => {
    const ds = await noiseCifar(false);
    const a = await ds.getBatch('train', Int32Array.of(5, 9, 40), { augment: true, seed: 11, epoch: 2 });
    const b = await ds.getBatch('train', Int32Array.of(40, 5, 9), { augment: true, seed: 11, epoch: 2 });
    expect(imageOf(a, 0)).toEqual(imageOf(b, 1));
    expect(imageOf(a, 2)).toEqual(imageOf(b, 0));
    const other = await ds.getBatch('train', Int32Array.of(5, 9, 40), { augment: true, seed: 11, epoch: 3 });
    expect(a.x).not.toEqual(other.x);
    // the same through the epoch iterator, whatever the batch size: unshuffled, position = index
    const fromEpoch: Float32Array[] = [];
    for await (const batch of ds.batches('train', { batchSize: 7, epoch: 2, seed: 11, shuffle: false })) {
      for (let i = 0; i < batch.size; i++) fromEpoch.push(imageOf(batch, i));
    }
    expect(fromEpoch[40]).toEqual(imageOf(a, 2));
  });

  it('leaves the test split unaugmented by default', async () => {
    const ds = await noiseCifar(false);
    const plain = await ds.getBatch('test', all(8), { augment: false, seed: 0 });
    const batches = [];
    for await (const batch of ds.batches('test', { batchSize: 8, epoch: 4, seed: 9 })) batches.push(batch);
    expect(batches).toHaveLength(1);
    expect(batches[0].x).toEqual(plain.x);
    expect(Array.from(batches[0].y)).toEqual(Array.from(plain.y));
  });

  it('augments the train split by default and not when asked not to', async () => {
    const ds = await noiseCifar(false);
    const order = all(64);
    const plain = await ds.getBatch('train', order, { augment: false, seed: 0 });
    const [defaulted] = await first(ds.batches('train', { batchSize: 64, epoch: 0, seed: 1, shuffle: false }));
    const [unaugmented] = await first(ds.batches('train', { batchSize: 64, epoch: 0, seed: 1, shuffle: false, augment: false }));
    expect(sameBytes(unaugmented.x, plain.x)).toBe(true);
    expect(sameBytes(defaulted.x, plain.x)).toBe(false);
  });
});

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function first<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  for await (const item of iterable) return [item];
  return [];
}
