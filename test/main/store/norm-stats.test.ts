import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../../src-main/store';
import type { DistributionSummary, NearConstantShare } from '../../../src-worker/kn/stats';
import { spec, tempDir } from './helpers';

const tmp = tempDir('store-norm-stats');
afterAll(() => tmp.cleanup());

const summary = (mean: number, nearConstant?: NearConstantShare): DistributionSummary => ({
  mean, std: 0.1, min: mean - 1, max: mean + 1, percentiles: [0, 0.25, 0.5, 0.75, 1], histogram: { lo: -1, hi: 1, counts: [1, 2, 3] },
  ...(nearConstant ? { nearConstant } : {}),
});

describe('normalization statistics in the store', () => {
  it('keeps the near-constant share through a real SQLite file; rows written without it still load', () => {
    const file = join(tmp.dir, 'stats.db');
    const store = ExperimentStore.open(file);
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const runId = store.addRuns(sweep.id, [spec()]).runs[0].id;
    store.markRunning(runId, 'cpu:0');
    const flat: NearConstantShare = { share: 0.25, count: 1024, total: 4096, unit: 'windows', eps: 1e-5, factor: 10 };
    store.apply(runId, { event: 'norm_stats', epoch: 1, step: 10, layers: [{ layer: 'stem.kn', kind: 'kn', mean: summary(0.1), std: summary(1, flat) }] });
    store.close();

    // rows as an older NormLab wrote them: no near-constant share, or (another version) one of another shape
    const db = new Database(file);
    const insert = db.prepare('INSERT INTO norm_stats (run_id, epoch, step, layer, kind, summary_json, time) VALUES (?, ?, ?, ?, ?, ?, ?)');
    insert.run(runId, 1, 5, 'stem.kn', 'kn', JSON.stringify({ mean: summary(0.2), std: summary(2) }), 1);
    insert.run(runId, 2, 20, 'stem.kn', 'kn', JSON.stringify({ mean: summary(0.3), std: { ...summary(3), nearConstant: { share: 'most' } } }), 2);
    db.close();

    const reopened = ExperimentStore.open(file, { readonly: true });
    const rows = reopened.getNormStats(runId, 'stem.kn');
    expect(rows.map((r) => [r.step, r.mean.mean, r.std.mean])).toEqual([[5, 0.2, 2], [10, 0.1, 1], [20, 0.3, 3]]);
    expect(rows.map((r) => r.std.nearConstant ?? null)).toEqual([null, flat, null]);
    expect('nearConstant' in rows[2].std).toBe(false);
    expect(rows[0].std.histogram.counts).toEqual([1, 2, 3]);
    expect(reopened.listNormLayers(runId)).toEqual([{ layer: 'stem.kn', kind: 'kn' }]);
    reopened.close();
  });
});
