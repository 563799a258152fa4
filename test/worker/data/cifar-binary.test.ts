import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../../src-worker/data';
import { cifarRecords, patternPixel, tempDir, writeCifar10 } from './helpers';

const all = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('CIFAR-10 binary reader', () => {
  it('reads the five training files in order and converts CHW planes to NHWC floats in [0, 1]', async () => {
    const dir = await tempDir();
    const { trainLabels, testLabels } = await writeCifar10(dir, [3, 2, 2, 2, 1], 2);
    const ds = await openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false });
    expect([ds.name, ds.numClasses, ds.trainSize, ds.testSize]).toEqual(['cifar10', 10, 10, 2]);
    expect(ds.imageShape).toEqual([32, 32, 3]);

    const train = await ds.getBatch('train', all(10), { augment: false, seed: 0 });
    expect(Array.from(train.y)).toEqual(trainLabels);
    for (const [r, y, x, c] of [[0, 0, 0, 0], [0, 5, 17, 2], [4, 31, 0, 1], [9, 12, 31, 0], [7, 31, 31, 2]] as const) {
      expect(train.x[r * 3072 + (y * 32 + x) * 3 + c]).toBeCloseTo(patternPixel(r, y, x, c) / 255, 6);
    }
    const test = await ds.getBatch('test', all(2), { augment: false, seed: 0 });
    expect(Array.from(test.y)).toEqual(testLabels);
    expect(test.x[3072 + (3 * 32 + 4) * 3 + 1]).toBeCloseTo(patternPixel(1001, 3, 4, 1) / 255, 6);
  });

  it('normalises with the CIFAR-10 mean/std when asked', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const ds = await openDataset({ dataset: 'cifar10', dataDir: dir, normalize: true });
    const batch = await ds.getBatch('train', Int32Array.of(2), { augment: false, seed: 0 });
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    for (const c of [0, 1, 2]) {
      expect(batch.x[(6 * 32 + 9) * 3 + c]).toBeCloseTo((patternPixel(2, 6, 9, c) / 255 - mean[c]) / std[c], 5);
    }
  });

  it('refuses a truncated file, naming it', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const file = join(dir, 'cifar-10-batches-bin', 'data_batch_3.bin');
    await appendFile(file, Uint8Array.of(1, 2, 3));
    await expect(openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false })).rejects.toThrow(
      `${file}: size ${2 * 3073 + 3} bytes is not a positive multiple of the 3073-byte CIFAR-10 record`,
    );
  });

  it('refuses an empty file as truncated', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const file = join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
    await writeFile(file, new Uint8Array(0));
    await expect(openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false })).rejects.toThrow(`${file}: size 0 bytes`);
  });

  it('refuses a label out of range, naming file and record', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const file = join(dir, 'cifar-10-batches-bin', 'data_batch_2.bin');
    await writeFile(file, cifarRecords([[4], [10]], patternPixel));
    await expect(openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false })).rejects.toThrow(
      `${file}: record 1 has label 10, expected 0..9`,
    );
  });

  it('says which file is missing and how to download the set', async () => {
    const dir = await tempDir();
    await writeCifar10(dir);
    const file = join(dir, 'cifar-10-batches-bin', 'data_batch_4.bin');
    await rm(file);
    const failure = openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false });
    await expect(failure).rejects.toThrow(`CIFAR-10 data not found in ${dir}: missing ${file}`);
    await expect(failure).rejects.toThrow(`normlab download cifar10 --data-dir ${dir}`);
  });

  it('says the whole folder is missing when dataDir is empty', async () => {
    const dir = await tempDir();
    await expect(openDataset({ dataset: 'cifar10', dataDir: dir, normalize: false })).rejects.toThrow(
      /missing .*cifar-10-batches-bin\/data_batch_1\.bin, .*test_batch\.bin\. Expected the official binary layout cifar-10-batches-bin/,
    );
  });

  it('refuses to open without dataDir', async () => {
    await expect(openDataset({ dataset: 'cifar10', normalize: false })).rejects.toThrow('data set cifar10 needs dataDir');
  });
});

describe('CIFAR-100 binary reader', () => {
  async function writeCifar100(dir: string, train: number[][], test: number[][]): Promise<void> {
    const folder = join(dir, 'cifar-100-binary');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'train.bin'), cifarRecords(train, patternPixel));
    await writeFile(join(folder, 'test.bin'), cifarRecords(test, (r, y, x, c) => patternPixel(r + 50, y, x, c)));
  }

  it('uses the fine label (second byte), not the coarse one', async () => {
    const dir = await tempDir();
    await writeCifar100(dir, [[3, 99], [19, 0], [0, 57]], [[7, 42]]);
    const ds = await openDataset({ dataset: 'cifar100', dataDir: dir, normalize: false });
    expect([ds.numClasses, ds.trainSize, ds.testSize]).toEqual([100, 3, 1]);
    const train = await ds.getBatch('train', all(3), { augment: false, seed: 0 });
    expect(Array.from(train.y)).toEqual([99, 0, 57]);
    // the pixels start after both label bytes
    expect(train.x[2 * 3072 + (8 * 32 + 30) * 3 + 2]).toBeCloseTo(patternPixel(2, 8, 30, 2) / 255, 6);
    const test = await ds.getBatch('test', all(1), { augment: false, seed: 0 });
    expect(Array.from(test.y)).toEqual([42]);
  });

  it('normalises with the CIFAR-100 mean/std of the reference scripts', async () => {
    const dir = await tempDir();
    await writeCifar100(dir, [[1, 1]], [[1, 1]]);
    const ds = await openDataset({ dataset: 'cifar100', dataDir: dir, normalize: true });
    const batch = await ds.getBatch('train', all(1), { augment: false, seed: 0 });
    expect(batch.x[0]).toBeCloseTo((patternPixel(0, 0, 0, 0) / 255 - 0.5071) / 0.2673, 5);
    expect(batch.x[2]).toBeCloseTo((patternPixel(0, 0, 0, 2) / 255 - 0.4409) / 0.2762, 5);
  });

  it('refuses fine labels >= 100 and coarse labels >= 20', async () => {
    const dir = await tempDir();
    await writeCifar100(dir, [[1, 1], [2, 100]], [[1, 1]]);
    const train = join(dir, 'cifar-100-binary', 'train.bin');
    await expect(openDataset({ dataset: 'cifar100', dataDir: dir, normalize: false })).rejects.toThrow(
      `${train}: record 1 has label 100, expected 0..99`,
    );
    await writeCifar100(dir, [[1, 1]], [[20, 1]]);
    await expect(openDataset({ dataset: 'cifar100', dataDir: dir, normalize: false })).rejects.toThrow(
      `${join(dir, 'cifar-100-binary', 'test.bin')}: record 0 has coarse label 20, expected 0..19`,
    );
  });

  it('treats a CIFAR-10-sized file as truncated CIFAR-100', async () => {
    const dir = await tempDir();
    await writeCifar100(dir, [[1, 1]], [[1, 1]]);
    const train = join(dir, 'cifar-100-binary', 'train.bin');
    await writeFile(train, cifarRecords([[1], [2], [3]], patternPixel));
    await expect(openDataset({ dataset: 'cifar100', dataDir: dir, normalize: false })).rejects.toThrow(
      `${train}: size 9219 bytes is not a positive multiple of the 3074-byte CIFAR-100 record (2 label bytes + 3072 pixels)`,
    );
  });
});

describe('openDataset', () => {
  it('names the folder when imagenet32 data is missing', async () => {
    await expect(openDataset({ dataset: 'imagenet32', dataDir: '/nowhere', normalize: false })).rejects.toThrow(
      'ImageNet32 training data not found in /nowhere',
    );
  });
});
