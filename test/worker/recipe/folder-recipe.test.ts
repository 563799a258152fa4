import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderDataset, folderEpochLength, type FolderRecipe } from '../../../src-worker/data/folder';
import type { Batch } from '../../../src-worker/data/types';

const created: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'normlab-folder-recipe-'));
  created.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A horizontal ramp, value 4·x: where a crop came from shows in its first column. */
async function rampImage(path: string, width: number, height: number, tint = 0): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      raw[o] = Math.min(255, 4 * x + 1);
      raw[o + 1] = 60 + tint;
      raw[o + 2] = 200 - y;
    }
  }
  await sharp(raw, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

async function rampSet(trainImages: number): Promise<string> {
  const dir = await tempDir();
  await Promise.all(Array.from({ length: trainImages }, (_, i) => rampImage(join(dir, 'train', `c${i % 2}`, `${i}.png`), 64, 32, i % 50)));
  await rampImage(join(dir, 'val', 'c0', 'v.png'), 64, 32);
  return dir;
}

async function firstBatch(ds: FolderDataset, split: 'train' | 'test', batchSize: number, epoch = 0): Promise<Batch> {
  for await (const batch of ds.batches(split, { batchSize, epoch, seed: 7 })) return batch;
  throw new Error('no batch');
}

const open = (dir: string, recipe: FolderRecipe = {}) => FolderDataset.open(dir, { normalize: false, imageSize: 16, ...recipe });

describe('the folder set under the ConvNeXt recipe', () => {
  it('trains on crops of trainCropSize and evaluates a centre crop of imageSize from valResizeSize', async () => {
    const dir = await rampSet(4);
    const plain = await open(dir);
    const recipe = await open(dir, { trainCropSize: 12, valResizeSize: 64 });
    expect((await firstBatch(plain, 'train', 4)).shape).toEqual([16, 16, 3]);
    expect((await firstBatch(recipe, 'train', 4)).shape).toEqual([12, 12, 3]);
    const evalPlain = await firstBatch(plain, 'test', 1);
    const evalRecipe = await firstBatch(recipe, 'test', 1);
    expect(evalRecipe.shape).toEqual([16, 16, 3]);
    // resize 18 (16·256/224) keeps a wide window (its first column from x ≈ 18 of 64); resize 64 a narrow one (x ≈ 28)
    const firstRed = (b: Batch) => (b.x[0] ?? 0) * 255;
    expect(firstRed(evalPlain)).toBeCloseTo(4 * 17.8 + 1, -1);
    expect(firstRed(evalRecipe)).toBeGreaterThan(firstRed(evalPlain) + 20);
    await expect(open(dir, { valResizeSize: 8 })).rejects.toThrow(/valResizeSize \(8\) must be at least imageSize \(16\)/);
  });

  it('TrivialAugmentWide and random erasing change training images, the same way on every pass', async () => {
    const dir = await rampSet(8);
    const plain = await firstBatch(await open(dir), 'train', 8);
    const ta = await open(dir, { autoAugment: 'ta_wide' });
    const taBatch = await firstBatch(ta, 'train', 8);
    expect(taBatch.y).toEqual(plain.y);
    expect(taBatch.x).not.toEqual(plain.x);
    expect((await firstBatch(ta, 'train', 8)).x).toEqual(taBatch.x);
    // a ramp starting at 1 has no zero byte; erasing with p = 1 zeroes a box in every image
    const zeros = (b: Batch) => b.x.filter((v) => v === 0).length;
    expect(zeros(plain)).toBe(0);
    const erased = await firstBatch(await open(dir, { randomErasing: 1 }), 'train', 8);
    const perImage = 16 * 16 * 3;
    for (let i = 0; i < 8; i++) expect(zeros({ ...erased, x: erased.x.subarray(i * perImage, (i + 1) * perImage) }), `image ${i}`).toBeGreaterThan(0);
  });

  it('the repeated-augmentation sampler repeats each image raReps times in a row, each copy augmented on its own', async () => {
    const dir = await rampSet(260);
    const ds = await open(dir, { raReps: 4, trainCropSize: 8 });
    expect(folderEpochLength(ds.trainSize, 4)).toBe(256);
    let samples = 0;
    const batches: Batch[] = [];
    for await (const batch of ds.batches('train', { batchSize: 64, epoch: 0, seed: 7 })) {
      samples += batch.size;
      batches.push(batch);
    }
    expect(samples).toBe(256);
    const first = batches[0];
    if (!first) throw new Error('no batch');
    const perImage = 8 * 8 * 3;
    const image = (i: number) => first.x.subarray(i * perImage, (i + 1) * perImage);
    // positions 0..3 are one image (one label and tint), in four different crops
    expect(new Set(Array.from(first.y.subarray(0, 4))).size).toBe(1);
    expect(image(1)).not.toEqual(image(0));
    expect(image(2)).not.toEqual(image(1));
  });
});
