import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../../src-main/api';
import { ExperimentStore } from '../../../src-main/store';
import { tempDir } from '../store/helpers';
import { storedRows } from './db-rows';
import { cifar10Dir as cifar10DirIn, refusal } from './service-fixtures';

const tmp = tempDir('submit-checks');
afterAll(() => tmp.cleanup());

const base = { epochs: 1, batchSize: 8, lr: 0.1 };
const cifar10Dir = (name: string, opts: { complete: boolean }) => cifar10DirIn(tmp.dir, name, opts);

/** An image folder with `n` training images in two classes (names are all that is counted at submit). */
function imageFolder(name: string, n: number): string {
  const dir = join(tmp.dir, name);
  for (const split of ['train', 'val']) for (const cls of ['cat', 'dog']) mkdirSync(join(dir, split, cls), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, 'train', i % 2 ? 'cat' : 'dog', `${i}.png`), '');
  return dir;
}

describe('submitSweep checks before it writes', () => {
  const file = join(tmp.dir, 'checks.db');
  const store = ExperimentStore.open(file);
  const service = new NormLabService(store);
  afterAll(() => store.close());

  it('refuses unknown models, missing or incomplete data and an oversized batch, naming the field, and writes nothing', async () => {
    await service.submitSweep({ name: 'earlier', base: { ...base, model: 'cnn', dataset: 'synthetic' } });
    const before = storedRows(file);
    expect([before.sweeps.length, before.runs.length]).toEqual([1, 1]);
    const missingDir = join(tmp.dir, 'no-such-folder');
    const incomplete = cifar10Dir('cifar-incomplete', { complete: false });
    const smallFolder = imageFolder('three-images', 3);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['unknown model', { name: 'a', base: { ...base, dataset: 'synthetic' }, grid: { model: ['cnn', 'resnet18'] } },
        /^grid\.model\[1\]: unknown model "resnet18"; known models: .*resnet18_bn/],
      ['no dataDir', { name: 'b', base: { ...base, model: 'cnn', dataset: 'cifar10' } },
        /^base\.dataDir: cifar10 needs dataDir, the folder holding cifar-10-batches-bin\/.*normlab download cifar10/],
      ['folder absent', { name: 'c', base: { ...base, model: 'cnn', dataset: 'cifar10', dataDir: missingDir } },
        new RegExp(`^base\\.dataDir: data folder ${missingDir} does not exist`)],
      ['files missing', { name: 'd', base: { ...base, model: 'cnn', dataset: 'cifar10', dataDir: incomplete } },
        /^base\.dataDir: CIFAR-10 is incomplete in .*: missing .*test_batch\.bin/],
      ['batch larger than the data', { name: 'e', base: { epochs: 1, lr: 0.1, model: 'cnn', dataset: 'folder', dataDir: smallFolder, imageSize: 16 }, grid: { batchSize: [2, 8] } },
        /^grid\.batchSize\[1\]: batch size 8 is larger than the training set \(3 images of folder\); lower batchSize/],
    ];
    for (const [what, spec, problem] of cases) {
      const error = await refusal(service.submitSweep(spec));
      expect(error.code, what).toBe('invalid_input');
      expect(error.problems, what).toEqual([expect.stringMatching(problem)]);
      const preview = await service.previewSweep(spec);
      expect(preview, what).toEqual({ ok: false, problems: error.problems });
      expect(storedRows(file), what).toEqual(before);
    }
  });

  it('accepts the same sweeps once the data is there', async () => {
    const complete = cifar10Dir('cifar-complete', { complete: true });
    const cifar = await service.submitSweep({ name: 'cifar', base: { ...base, model: 'cnn', dataset: 'cifar10', dataDir: complete } });
    expect(cifar.runs.created).toBe(1);
    const folder = await service.submitSweep({ name: 'folder', base: { ...base, model: 'cnn', dataset: 'folder', dataDir: imageFolder('eight-images', 8), imageSize: 16 } });
    expect(folder.runs.created).toBe(1);
  });
});

describe('listDatasets reads the data-set registry', () => {
  it('says which sets need data, which download, and whether the download folder holds a complete copy', async () => {
    const dataDir = cifar10Dir('downloads', { complete: true });
    const store = ExperimentStore.open(join(tmp.dir, 'datasets.db'));
    const sets = await new NormLabService(store, null, { dataDir }).listDatasets();
    store.close();
    const byName = Object.fromEntries(sets.map((s) => [s.name, s]));
    expect(byName.cifar10).toEqual({ name: 'cifar10', trainSize: 50_000, needsData: true, downloadable: true, present: true, downloadDir: dataDir });
    expect(byName.cifar100).toMatchObject({ downloadable: true, present: false });
    expect(byName.synthetic).toMatchObject({ needsData: false, downloadable: false, present: true, downloadDir: null });
    expect(byName.imagenet32).toMatchObject({ trainSize: 1_281_167, downloadable: false, present: null });
    expect(byName.folder).toMatchObject({ trainSize: null, present: null });
  });
});
