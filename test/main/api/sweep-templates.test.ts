import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../../src-main/api';
import { ExperimentStore } from '../../../src-main/store';
import { placeholderCifar100 } from '../../fixtures/table1-data';
import { tempDir } from '../store/helpers';
import { storedRows } from './db-rows';
import { refusal } from './service-fixtures';

const tmp = tempDir('sweep-templates');
afterAll(() => tmp.cleanup());

describe('sweep templates through the service', () => {
  it('lists paper-table1 and previews it with overrides, writing nothing', async () => {
    const file = join(tmp.dir, 'preview.db');
    const store = ExperimentStore.open(file);
    const service = new NormLabService(store);
    try {
      expect(await service.listSweepTemplates()).toEqual([expect.objectContaining({ name: 'paper-table1', runs: 189, configs: 63 })]);
      const preview = await service.expandSweepTemplate('paper-table1', { width: 0.0625, epochs: 1 });
      expect(preview).toMatchObject({ template: 'paper-table1', runs: 189, configs: 63 });
      expect(preview.sweeps).toEqual([{ name: 'paper-table1 w0.0625 e1', runs: 189 }]);
      expect(storedRows(file)).toEqual({ sweeps: [], runs: [] });
    } finally {
      store.close();
    }
  });

  it('queues all 189 runs with the service\'s data folder; submitting again adds none', async () => {
    const dataDir = placeholderCifar100(join(tmp.dir, 'data'));
    const file = join(tmp.dir, 'queue.db');
    const store = ExperimentStore.open(file);
    const service = new NormLabService(store, null, { dataDir });
    try {
      const result = await service.submitSweepTemplate('paper-table1', { width: 0.0625, epochs: 1 });
      expect(result.runs).toEqual({ total: 189, created: 189, existing: 0 });
      expect(result.sweeps.map((r) => r.name)).toEqual(['paper-table1 w0.0625 e1']);
      expect(store.countRuns({ status: 'queued' })).toBe(189);
      const runs = store.listRuns({ limit: 1000 });
      expect(new Set(runs.map((r) => r.spec.dataDir))).toEqual(new Set([dataDir]));
      expect(new Set(runs.map((r) => `${r.spec.width}/${r.epochs}`))).toEqual(new Set(['0.0625/1']));
      const again = await service.submitSweepTemplate('paper-table1', { width: 0.0625, epochs: 1 });
      expect(again.runs).toEqual({ total: 189, created: 0, existing: 189 });
      expect(store.countRuns({})).toBe(189);
    } finally {
      store.close();
    }
  });

  it('refuses a missing data folder and an unknown template before writing anything', async () => {
    const file = join(tmp.dir, 'refused.db');
    const store = ExperimentStore.open(file);
    const service = new NormLabService(store, null, { dataDir: join(tmp.dir, 'nowhere') });
    try {
      const noData = await refusal(service.submitSweepTemplate('paper-table1', { epochs: 1 }));
      expect(noData.code).toBe('invalid_input');
      expect(noData.problems).toEqual([expect.stringContaining(`base.dataDir: data folder ${join(tmp.dir, 'nowhere')} does not exist`)]);
      const unknown = await refusal(service.submitSweepTemplate('paper-table7'));
      expect(unknown).toMatchObject({ code: 'invalid_input', message: 'unknown sweep template "paper-table7" (known: paper-table1)' });
      const badOption = await refusal(service.expandSweepTemplate('paper-table1', { width: 0 }));
      expect(badOption.message).toMatch(/^invalid options for sweep template "paper-table1": width: /);
      expect(storedRows(file)).toEqual({ sweeps: [], runs: [] });
      expect(existsSync(join(tmp.dir, 'nowhere'))).toBe(false);
    } finally {
      store.close();
    }
  });
});
