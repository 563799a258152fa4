import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR_LAYOUTS } from '../../../src-worker/data/cifar-binary';
import { IMAGENET32_LAYOUT } from '../../../src-worker/data/imagenet32';
import { checkDataDir, DATASET_NAMES, DATASETS, isDownloadable, trainSizeOf } from '../../../src-worker/data/registry';
import { datasetNameSchema } from '../../../src-worker/run-spec';

const dir = mkdtempSync(join(tmpdir(), 'normlab-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function touch(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '');
}

describe('the data-set registry', () => {
  it('has one entry per data-set name of the run spec, with the published sizes and folders', () => {
    expect([...DATASET_NAMES].sort()).toEqual([...datasetNameSchema.options].sort());
    expect(DATASETS.cifar10).toMatchObject({ trainSize: 50_000, folder: 'cifar-10-batches-bin', downloadable: true, needsData: true });
    expect(DATASETS.cifar100).toMatchObject({ trainSize: 50_000, folder: CIFAR_LAYOUTS.cifar100.folder, downloadable: true });
    expect(DATASETS.synthetic).toMatchObject({ trainSize: 5000, needsData: false, downloadable: false });
    expect(DATASETS.imagenet32).toMatchObject({ trainSize: null, publishedTrainSize: 1_281_167, downloadable: false });
    expect(DATASET_NAMES.filter(isDownloadable)).toEqual(['cifar10', 'cifar100']);
    expect(isDownloadable('imagenet32')).toBe(false);
    expect(isDownloadable('toString')).toBe(false);
  });

  it('says what a data dir lacks for each layout, naming the paths', async () => {
    expect(await checkDataDir('synthetic', undefined)).toEqual({ complete: true, problems: [] });
    expect((await checkDataDir('cifar100', undefined)).problems).toEqual([
      'cifar100 needs dataDir, the folder holding cifar-100-binary/{train.bin,test.bin}; run `normlab download cifar100 --data-dir <dir>` to fetch it',
    ]);

    const cifar = join(dir, 'cifar');
    touch(join(cifar, 'cifar-100-binary', 'train.bin'));
    expect(await checkDataDir('cifar100', cifar)).toEqual({
      complete: false,
      problems: [`CIFAR-100 is incomplete in ${cifar}: missing ${join(cifar, 'cifar-100-binary', 'test.bin')}; run \`normlab download cifar100 --data-dir ${cifar}\` to fetch it`],
    });
    touch(join(cifar, 'cifar-100-binary', 'test.bin'));
    expect((await checkDataDir('cifar100', cifar)).complete).toBe(true);

    const imagenet = join(dir, 'imagenet32');
    mkdirSync(imagenet);
    const { trainFolder, valFolder, valFile, trainFile } = IMAGENET32_LAYOUT;
    expect((await checkDataDir('imagenet32', imagenet)).problems).toEqual([
      `${join(imagenet, trainFolder, trainFile(1))} is missing`, `${join(imagenet, valFolder, valFile)} is missing`,
    ]);
    // the files may also lie in the data dir itself, as the reader accepts
    touch(join(imagenet, trainFile(1)));
    touch(join(imagenet, valFolder, valFile));
    expect(await checkDataDir('imagenet32', imagenet)).toEqual({ complete: true, problems: [] });

    const folder = join(dir, 'images');
    mkdirSync(join(folder, 'train', 'cat'), { recursive: true });
    expect((await checkDataDir('folder', folder)).problems).toEqual([`${join(folder, 'val')} is missing (no val/<class>/ folders)`]);
    expect((await checkDataDir('folder', join(dir, 'nowhere'))).problems).toEqual([`data folder ${join(dir, 'nowhere')} does not exist`]);
  });

  it('counts an image folder\'s training images as ImageFolder does: only those inside class folders', async () => {
    const folder = join(dir, 'counted');
    for (const name of ['cat/a.png', 'cat/b.JPG', 'cat/nested/c.jpeg', 'dog/d.png', 'dog/notes.txt', 'loose.png']) touch(join(folder, 'train', name));
    expect(await trainSizeOf({ dataset: 'folder', dataDir: folder })).toBe(4);
    expect(await trainSizeOf({ dataset: 'cifar10' })).toBe(50_000);
    expect(await trainSizeOf({ dataset: 'synthetic', syntheticTrainSize: 96 })).toBe(96);
    expect(await trainSizeOf({ dataset: 'imagenet32', dataDir: dir })).toBeNull();
  });
});
