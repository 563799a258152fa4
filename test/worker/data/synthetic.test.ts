import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../../src-worker/data';
import { ensureSyntheticCifar } from '../../../src-worker/data/synthetic';
import { tempDir } from './helpers';

const FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];

async function filesOf(dataDir: string): Promise<Buffer[]> {
  return Promise.all(FILES.map((f) => readFile(join(dataDir, 'cifar-10-batches-bin', f))));
}

describe('synthetic data set', () => {
  it('writes the CIFAR-10 binary layout, byte-identical for the same seed and different for another', async () => {
    const params = { seed: 5, trainSize: 50, testSize: 20 };
    const a = await ensureSyntheticCifar(params, await tempDir());
    const b = await ensureSyntheticCifar(params, await tempDir());
    const c = await ensureSyntheticCifar({ ...params, seed: 6 }, await tempDir());
    const [filesA, filesB, filesC] = [await filesOf(a), await filesOf(b), await filesOf(c)];
    expect(filesA.map((f) => f.length)).toEqual([10, 10, 10, 10, 10, 20].map((n) => n * 3073));
    filesA.forEach((file, i) => expect(file.equals(filesB[i])).toBe(true));
    filesA.forEach((file, i) => expect(file.equals(filesC[i])).toBe(false));
  });

  it('generates once into the cache, reuses it and leaves no staging folders', async () => {
    const cacheDir = await tempDir();
    const opts = { dataset: 'synthetic' as const, normalize: false, cacheDir, syntheticTrainSize: 40, syntheticTestSize: 10 };
    const first = await openDataset(opts);
    expect([first.name, first.numClasses, first.trainSize, first.testSize]).toEqual(['synthetic', 10, 40, 10]);
    const entries = await readdir(cacheDir);
    expect(entries).toEqual(['synthetic-v1-seed0-train40-test10']);
    const file = join(cacheDir, entries[0], 'cifar-10-batches-bin', 'data_batch_1.bin');
    const before = (await stat(file)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await openDataset(opts);
    expect((await stat(file)).mtimeMs).toBe(before);
    expect(await readdir(cacheDir)).toEqual(entries);
  });

  it('has balanced labels', async () => {
    const ds = await openDataset({ dataset: 'synthetic', normalize: false, cacheDir: await tempDir(), syntheticTrainSize: 100, syntheticTestSize: 30 });
    const batch = await ds.getBatch('train', Int32Array.from({ length: 100 }, (_, i) => i), { augment: false, seed: 0 });
    const counts = new Array(10).fill(0);
    batch.y.forEach((label) => counts[label]++);
    expect(counts).toEqual(new Array(10).fill(10));
  });

  it('is learnable but not trivial: nearest class mean on raw pixels beats chance clearly, far from perfect', async () => {
    const ds = await openDataset({ dataset: 'synthetic', normalize: false, cacheDir: await tempDir(), syntheticTrainSize: 1000, syntheticTestSize: 300 });
    const dims = 32 * 32 * 3;
    const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    const train = await ds.getBatch('train', all(ds.trainSize), { augment: false, seed: 0 });
    const test = await ds.getBatch('test', all(ds.testSize), { augment: false, seed: 0 });
    const means = Array.from({ length: 10 }, () => new Float64Array(dims));
    const counts = new Array(10).fill(0);
    for (let i = 0; i < train.size; i++) {
      const label = train.y[i];
      counts[label]++;
      for (let d = 0; d < dims; d++) means[label][d] += train.x[i * dims + d];
    }
    means.forEach((m, label) => m.forEach((v, d) => (m[d] = v / counts[label])));
    let correct = 0;
    for (let i = 0; i < test.size; i++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let label = 0; label < 10; label++) {
        let distance = 0;
        for (let d = 0; d < dims; d++) distance += (test.x[i * dims + d] - means[label][d]) ** 2;
        if (distance < bestDistance) [best, bestDistance] = [label, distance];
      }
      if (best === test.y[i]) correct++;
    }
    const accuracy = correct / test.size;
    expect(accuracy).toBeGreaterThan(0.18);
    expect(accuracy).toBeLessThan(0.7);
  });

  it('normalises with its own training statistics: mean ≈ 0 and std ≈ 1 per channel', async () => {
    const ds = await openDataset({ dataset: 'synthetic', normalize: true, cacheDir: await tempDir(), syntheticTrainSize: 200, syntheticTestSize: 10 });
    const batch = await ds.getBatch('train', Int32Array.from({ length: 200 }, (_, i) => i), { augment: false, seed: 0 });
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      let sumSq = 0;
      for (let i = c; i < batch.x.length; i += 3) {
        sum += batch.x[i];
        sumSq += batch.x[i] ** 2;
      }
      const n = batch.x.length / 3;
      expect(sum / n).toBeCloseTo(0, 3);
      expect(Math.sqrt(sumSq / n - (sum / n) ** 2)).toBeCloseTo(1, 3);
    }
  });

  it('refuses sizes too small for the five training files', async () => {
    await expect(openDataset({ dataset: 'synthetic', normalize: false, cacheDir: await tempDir(), syntheticTrainSize: 4 })).rejects.toThrow(
      'synthetic data set: syntheticTrainSize must be an integer >= 5, got 4',
    );
  });
});
