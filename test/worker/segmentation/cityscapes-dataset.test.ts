import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, openDataset, openSegmentationDataset, type SegmentationBatch, type SegmentationDataset } from '../../../src-worker/data';
import { IMAGENET_STATS } from '../../../src-worker/data/normalization';
import { checkDataDir } from '../../../src-worker/data/registry';
import { syntheticCityscapes } from './fixtures';

let root: string;
let data: SegmentationDataset;

beforeAll(async () => {
  root = await syntheticCityscapes({ trainImages: 6, valImages: 3, width: 64, height: 32, seed: 5 });
  data = await openSegmentationDataset({ dataset: 'cityscapes', dataDir: root, normalize: true, cropSize: [32, 16], scaleRange: [0.5, 2] });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<SegmentationBatch>): Promise<SegmentationBatch[]> {
  const out: SegmentationBatch[] = [];
  for await (const b of iterable) out.push(b);
  return out;
}

describe('the Cityscapes data set', () => {
  it('trains on crops of cropSize and evaluates at full resolution, with int32 label maps of train ids', async () => {
    expect([data.task, data.numClasses, data.trainSize, data.testSize]).toEqual(['segmentation', 19, 6, 3]);
    const train = await collect(data.batches('train', { batchSize: 4, epoch: 0, seed: 1 }));
    expect(train.map((b) => [b.size, ...b.shape])).toEqual([[4, 16, 32, 3], [2, 16, 32, 3]]);
    expect(train[0]?.labels).toBeInstanceOf(Int32Array);
    expect(train[0]?.labels.length).toBe(4 * 16 * 32);
    const test = await collect(data.batches('test', { batchSize: 2, epoch: 0, seed: 1 }));
    expect(test.map((b) => [b.size, ...b.shape])).toEqual([[2, 32, 64, 3], [1, 32, 64, 3]]);
    const ids = new Set(test.flatMap((b) => [...b.labels]));
    expect([...ids].every((v) => (v >= 0 && v < 19) || v === 255)).toBe(true);
    expect(ids.has(255)).toBe(true); // the ego-vehicle strip
  });

  it('normalises with ImageNet statistics, as the folder set does', async () => {
    const [batch] = await collect(data.batches('test', { batchSize: 1, epoch: 0, seed: 1 }));
    const raw = await openSegmentationDataset({ dataset: 'cityscapes', dataDir: root, normalize: false });
    const [plain] = await collect(raw.batches('test', { batchSize: 1, epoch: 0, seed: 1 }));
    if (!batch || !plain) throw new Error('no batch');
    for (const i of [0, 1, 2, 300, 1001]) {
      const c = i % 3;
      expect(batch.x[i]).toBeCloseTo(((plain.x[i] ?? 0) - (IMAGENET_STATS.mean[c] ?? 0)) / (IMAGENET_STATS.std[c] ?? 1), 5);
    }
    expect(Math.max(...plain.x)).toBeLessThanOrEqual(1);
  });

  it('is deterministic in (seed, epoch) and resumes at startBatch with the same batches', async () => {
    const a = await collect(data.batches('train', { batchSize: 2, epoch: 3, seed: 7 }));
    const b = await collect(data.batches('train', { batchSize: 2, epoch: 3, seed: 7 }));
    const later = await collect(data.batches('train', { batchSize: 2, epoch: 3, seed: 7, startBatch: 1 }));
    const other = await collect(data.batches('train', { batchSize: 2, epoch: 4, seed: 7 }));
    expect(b).toEqual(a);
    expect(later).toEqual(a.slice(1));
    expect(other[0]?.x).not.toEqual(a[0]?.x);
  });

  it('is refused by openDataset and refuses a classification set, naming both', async () => {
    await expect(openDataset({ dataset: 'cityscapes', dataDir: root, normalize: true })).rejects.toThrow(/cityscapes has per-pixel labels: open it with openSegmentationDataset/);
    await expect(openSegmentationDataset({ dataset: 'cifar10', dataDir: root, normalize: true })).rejects.toThrow(/cifar10 has one label per image/);
  });

  it('refuses a folder with a missing mask, saying how many were found and which is missing', async () => {
    const broken = await syntheticCityscapes({ trainImages: 3, valImages: 1, width: 16, height: 8 });
    try {
      await unlink(join(broken, 'gtFine/train/synthB/synthB_000000_000001_gtFine_labelIds.png'));
      const opening = openSegmentationDataset({ dataset: 'cityscapes', dataDir: broken, normalize: true });
      await expect(opening).rejects.toThrow(DataError);
      await expect(opening).rejects.toThrow('Cityscapes train: found 3 images and 2 masks under ' + broken + '; 1 image(s) without a mask: synthB_000000_000001');
      // the service's up-front check only looks for the folders; the reader is the one that counts files
      expect(await checkDataDir('cityscapes', broken)).toEqual({ complete: true, problems: [] });
      await rm(join(broken, 'gtFine/val'), { recursive: true });
      expect((await checkDataDir('cityscapes', broken)).problems).toEqual([expect.stringMatching(/gtFine\/val is missing \(Cityscapes' official layout/)]);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
