import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { storedRows } from '../main/api/db-rows';
import { spec, tempDir } from '../main/store/helpers';
import { normlab as runNormlab } from './normlab-cli';

const tmp = tempDir('cli-sweep-refusals');
afterAll(() => tmp.cleanup());

const normlab = (args: string[]) => runNormlab(args, { timeoutMs: 90_000 });

describe('normlab sweep refuses a sweep that cannot run, before it writes anything', () => {
  it('exits 2 naming the field for an unknown model, a missing data folder, an oversized batch and a model of the wrong task; the store keeps its rows', async () => {
    const db = join(tmp.dir, 'store.db');
    const store = ExperimentStore.open(db);
    const { sweep } = store.upsertSweep({ name: 'earlier', spec: {} });
    store.addRuns(sweep.id, [spec({ seed: 1 })]);
    store.close();
    const before = storedRows(db);
    const base = { epochs: 1, batchSize: 8, lr: 0.1 };
    const missing = join(tmp.dir, 'no-such-data');
    const cases: [string, unknown, string][] = [
      ['unknown-model', { name: 'm', base: { ...base, model: 'resnet99', dataset: 'synthetic' } }, 'base.model: unknown model "resnet99"'],
      ['no-data', { name: 'd', base: { ...base, model: 'cnn', dataset: 'cifar100', dataDir: missing } },
        `base.dataDir: data folder ${missing} does not exist; run \`normlab download cifar100 --data-dir ${missing}\``],
      ['batch', { name: 'b', base: { ...base, model: 'cnn', dataset: 'synthetic', syntheticTrainSize: 4 } }, 'batch size 8 is larger than the training set (4 images of synthetic)'],
      ['task', { name: 't', base: { ...base, model: 'fc_knresnet18', dataset: 'synthetic' } },
        'base.model: model fc_knresnet18 is a segmentation model (per-pixel labels), but data set synthetic (base.dataset) is a classification set'],
    ];
    // one after the other: each opens the same file
    for (const [name, sweepSpec, message] of cases) {
      const file = join(tmp.dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(sweepSpec));
      const r = await normlab(['sweep', file, '--db', db, '--workers', '1']);
      expect({ name, code: r.code }).toEqual({ name, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(storedRows(db), name).toEqual(before);
    }
  });
});
