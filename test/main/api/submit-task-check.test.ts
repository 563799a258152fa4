import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../../src-main/api';
import { ExperimentStore } from '../../../src-main/store';
import { tempDir } from '../store/helpers';
import { storedRows } from './db-rows';
import { cifar10Dir, refusal } from './service-fixtures';

const tmp = tempDir('submit-task-check');
afterAll(() => tmp.cleanup());

const base = { epochs: 1, batchSize: 8, lr: 0.1 };

/** Cityscapes' four folders: all the submit check looks for (the images are read by the worker). */
function cityscapesDir(): string {
  const dir = join(tmp.dir, 'cityscapes');
  for (const top of ['leftImg8bit', 'gtFine']) for (const split of ['train', 'val']) mkdirSync(join(dir, top, split), { recursive: true });
  return dir;
}

describe('submitSweep refuses a model whose task is not its data set\'s, before it writes', () => {
  const file = join(tmp.dir, 'tasks.db');
  const store = ExperimentStore.open(file);
  const service = new NormLabService(store);
  afterAll(() => store.close());
  const cityscapes = cityscapesDir();
  const cifar = cifar10Dir(tmp.dir, 'cifar', { complete: true });

  it('names the model and the data set by their spec fields, writes no sweep or run rows, and previews the same problems', async () => {
    await service.submitSweep({ name: 'earlier', base: { ...base, model: 'cnn', dataset: 'synthetic' } });
    const before = storedRows(file);
    expect([before.sweeps.length, before.runs.length]).toEqual([1, 1]);
    const cases: [string, Record<string, unknown>, RegExp[]][] = [
      ['segmentation model on a classification set',
        { name: 'a', base: { ...base, dataset: 'cifar10', dataDir: cifar }, grid: { model: ['cnn', 'fc_knresnet18'] } },
        [/^grid\.model\[1\]: model fc_knresnet18 is a segmentation model \(per-pixel labels\), but data set cifar10 \(base\.dataset\) is a classification set; use a segmentation data set \(cityscapes\)$/]],
      ['classifier on Cityscapes',
        { name: 'b', base: { ...base, model: 'knresnet18', dataset: 'cityscapes', dataDir: cityscapes } },
        [/^base\.model: model knresnet18 is a classifier, but data set cityscapes \(base\.dataset\) is a segmentation set \(per-pixel labels\); use an fc_\* segmentation model$/]],
      // one problem per pairing, however many seeds or learning rates repeat it
      ['a dataset axis: only the mismatched pairing',
        { name: 'c', base: { epochs: 1, batchSize: 8, model: 'fc_resnet18_bn', dataDir: cityscapes }, grid: { dataset: ['cityscapes', 'synthetic'], lr: [0.1, 0.01] }, seeds: [1, 2] },
        [/^base\.model: model fc_resnet18_bn is a segmentation model .*but data set synthetic \(grid\.dataset\[1\]\) is a classification set/]],
      ['DP-SGD on a segmentation model',
        { name: 'd', base: { ...base, model: 'fc_knresnet18', dataset: 'cityscapes', dataDir: cityscapes, dp: { noiseMultiplier: 1, logicalBatch: 16 } } },
        [/^base\.model: model fc_knresnet18 is a segmentation model, and DP-SGD \(dp\) trains classifiers only$/]],
      // a model given in explicit points is named by its point, as the user wrote it
      ['a segmentation model in points',
        { name: 'e', base: { epochs: 1, dataset: 'cifar10', dataDir: cifar },
          points: [{ model: 'cnn', batchSize: 8, lr: 0.1 }, { model: 'fc_knresnet18', batchSize: 8, lr: 0.05 }] },
        [/^points\[1\]\.model: model fc_knresnet18 is a segmentation model \(per-pixel labels\), but data set cifar10 \(base\.dataset\)/]],
    ];
    for (const [what, spec, problems] of cases) {
      const error = await refusal(service.submitSweep(spec));
      expect(error.code, what).toBe('invalid_input');
      expect(error.problems, what).toEqual(problems.map((p) => expect.stringMatching(p)));
      expect(await service.previewSweep(spec), what).toEqual({ ok: false, problems: error.problems });
      expect(storedRows(file), what).toEqual(before);
    }
  });

  it('queues matched pairings: a segmentation model on Cityscapes, a classifier on CIFAR-10', async () => {
    const seg = await service.submitSweep({ name: 'seg', base: { ...base, model: 'fc_knresnet18', dataset: 'cityscapes', dataDir: cityscapes } });
    expect(seg.runs.created).toBe(1);
    const cls = await service.submitSweep({ name: 'cls', base: { ...base, model: 'knresnet18', dataset: 'cifar10', dataDir: cifar } });
    expect(cls.runs.created).toBe(1);
  });
});
