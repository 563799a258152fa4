import { describe, expect, it } from 'vitest';
import { openDataset, type Batch } from '../../../src-worker/data';
import { iterateEpoch } from '../../../src-worker/data/batching';
import { tempDir, writeCifar10 } from './helpers';

/** A build function whose batches carry the indices asked for, so tests see exactly what was visited. */
function indexBatches(log: number[][] = []) {
  return async (indices: Int32Array): Promise<Batch> => {
    log.push(Array.from(indices));
    return { x: new Float32Array(0), y: Int32Array.from(indices), size: indices.length, shape: [1, 1, 1] };
  };
}

async function collect(iterable: AsyncIterable<Batch>): Promise<number[][]> {
  const batches: number[][] = [];
  for await (const batch of iterable) batches.push(Array.from(batch.y));
  return batches;
}

describe('epoch iteration', () => {
  it('visits every index exactly once per epoch, in a shuffled order', async () => {
    const batches = await collect(iterateEpoch('train', 103, { batchSize: 10, epoch: 0, seed: 1 }, indexBatches()));
    expect(batches.map((b) => b.length)).toEqual([...new Array(10).fill(10), 3]);
    const seen = batches.flat();
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(seen).not.toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  it('is deterministic in (seed, epoch) and differs between epochs and seeds', async () => {
    const order = (seed: number, epoch: number) =>
      collect(iterateEpoch('train', 50, { batchSize: 8, epoch, seed }, indexBatches())).then((b) => b.flat());
    expect(await order(3, 2)).toEqual(await order(3, 2));
    expect(await order(3, 2)).not.toEqual(await order(3, 1));
    expect(await order(3, 2)).not.toEqual(await order(4, 2));
  });

  it('keeps the test split in file order unless asked to shuffle', async () => {
    expect((await collect(iterateEpoch('test', 9, { batchSize: 4, epoch: 5, seed: 5 }, indexBatches()))).flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const shuffled = (await collect(iterateEpoch('test', 9, { batchSize: 4, epoch: 5, seed: 5, shuffle: true }, indexBatches()))).flat();
    expect(shuffled).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('drops the short last batch with dropLast', async () => {
    const batches = await collect(iterateEpoch('train', 103, { batchSize: 10, epoch: 0, seed: 1, dropLast: true }, indexBatches()));
    expect(batches).toHaveLength(10);
    expect(batches.every((b) => b.length === 10)).toBe(true);
  });

  it('resumes at startBatch with exactly the batches an uninterrupted epoch would have produced, building none before it', async () => {
    const opts = { batchSize: 6, epoch: 7, seed: 2 };
    const full = await collect(iterateEpoch('train', 40, opts, indexBatches()));
    const built: number[][] = [];
    const resumed = await collect(iterateEpoch('train', 40, { ...opts, startBatch: 4 }, indexBatches(built)));
    expect(resumed).toEqual(full.slice(4));
    expect(built).toEqual(full.slice(4));
    expect(await collect(iterateEpoch('train', 40, { ...opts, startBatch: 7 }, indexBatches()))).toEqual([]);
    expect(() => iterateEpoch('train', 40, { ...opts, startBatch: 8 }, indexBatches())).toThrow(
      'batches: startBatch 8 is past the end of the epoch (7 batches of the train split)',
    );
  });

  it('keeps batches in flight ahead of the consumer', async () => {
    let started = 0;
    const build = async (indices: Int32Array): Promise<Batch> => {
      started++;
      await new Promise((r) => setTimeout(r, 5));
      return { x: new Float32Array(0), y: Int32Array.from(indices), size: indices.length, shape: [1, 1, 1] };
    };
    const startedWhenConsumed: number[] = [];
    for await (const _ of iterateEpoch('train', 100, { batchSize: 10, epoch: 0, seed: 0 }, build)) {
      startedWhenConsumed.push(started);
      await new Promise((r) => setTimeout(r, 1));
    }
    // while batch k is in the consumer's hands, batches k+1..k+3 are already being built
    expect(startedWhenConsumed.slice(0, 7)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('surfaces a failed batch when the consumer reaches it', async () => {
    const build = async (indices: Int32Array): Promise<Batch> => {
      if (indices.includes(0)) throw new Error('image 0 is broken');
      return { x: new Float32Array(0), y: Int32Array.from(indices), size: indices.length, shape: [1, 1, 1] };
    };
    const seen: number[] = [];
    const run = async () => {
      for await (const batch of iterateEpoch('train', 30, { batchSize: 10, epoch: 0, seed: 0, shuffle: false }, build)) seen.push(batch.size);
    };
    await expect(run()).rejects.toThrow('image 0 is broken');
    expect(seen).toEqual([]);
  });

  it('rejects bad options with the option named', () => {
    expect(() => iterateEpoch('train', 10, { batchSize: 0, epoch: 0, seed: 0 }, indexBatches())).toThrow('batches: batchSize must be an integer >= 1, got 0');
    expect(() => iterateEpoch('train', 10, { batchSize: 2, epoch: -1, seed: 0 }, indexBatches())).toThrow('batches: epoch must be an integer >= 0, got -1');
  });
});

describe('Dataset batches and getBatch', () => {
  it('covers the CIFAR training set once per epoch with labels matching random access', async () => {
    const dir = await tempDir();
    const { trainLabels } = await writeCifar10(dir, [5, 5, 5, 5, 3], 4);
    const ds = await openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false });
    const seenFirstPixels: number[] = [];
    const seenLabels: number[] = [];
    for await (const batch of ds.batches('train', { batchSize: 5, epoch: 1, seed: 4, augment: false })) {
      expect(batch.shape).toEqual([32, 32, 3]);
      expect(batch.x.length).toBe(batch.size * 3072);
      for (let i = 0; i < batch.size; i++) {
        seenFirstPixels.push(Math.round(batch.x[i * 3072] * 255));
        seenLabels.push(batch.y[i]);
      }
    }
    // patternPixel(r, 0, 0, 0) = r * 97 & 255 is distinct for the 23 records
    const expectedPixels = Array.from({ length: 23 }, (_, r) => (r * 97) & 255);
    expect([...seenFirstPixels].sort((a, b) => a - b)).toEqual([...expectedPixels].sort((a, b) => a - b));
    seenFirstPixels.forEach((pixel, i) => expect(seenLabels[i]).toBe(trainLabels[expectedPixels.indexOf(pixel)]));
  });

  it('refuses out-of-range indices in getBatch', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const ds = await openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false });
    await expect(ds.getBatch('test', Int32Array.of(0, 2), { augment: false, seed: 0 })).rejects.toThrow('getBatch: index 2 is outside the test split (0..1)');
  });
});
