import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NormLabService } from '../../../src-main/api/service';
import { ExperimentStore, MIGRATIONS } from '../../../src-main/store';
import { NORMLAB_APPLICATION_ID } from '../../../src-main/store/connection';
import { configGroupKey, groupConfig, groupKeyOfConfig, runKey, searchFamilyKey } from '../../../src-main/store/group-key';
import { migrate } from '../../../src-main/store/migrations';
import { expandSweep, parseSweepSpec } from '../../../src-main/sweeps';
import { canonicalJson } from '../../../src-worker/run-config';
import { dpOptionsSchema, parseRunSpec, runSpecSchema, type RunSpec } from '../../../src-worker/run-spec';
import { resolvePreset } from '../../../src-worker/train/presets';
import { finalMetrics, tempDir } from './helpers';

const tmp = tempDir('group-key-migration');
afterAll(() => tmp.cleanup());

/** The key of schema version 2 and earlier, as that code computed it: every group-config field hashed. */
function oldGroupKey(spec: RunSpec): string {
  return createHash('sha256').update(canonicalJson(groupConfig(spec))).digest('hex').slice(0, 16);
}

const sweepInput = {
  name: 'kn-vs-gn',
  base: { dataset: 'synthetic', epochs: 2, batchSize: 16, syntheticTrainSize: 64, syntheticTestSize: 32 },
  grid: { model: ['kn_cnn', 'resnet18_gn'], lr: [0.1, 0.05] },
  seeds: [1, 2],
};

/** A store file as NormLab at schema version 2 left it: its schema, its keys, its rows. */
function oldStore(file: string): RunSpec[] {
  const db = new Database(file);
  migrate(db, MIGRATIONS.slice(0, 2));
  db.pragma(`application_id = ${NORMLAB_APPLICATION_ID}`);
  const spec = parseSweepSpec(sweepInput);
  const sweepId = Number(db.prepare(`INSERT INTO sweeps (name, spec_json, priority, created_at, updated_at) VALUES (?, ?, 0, 1, 1)`)
    .run(spec.name, JSON.stringify(spec)).lastInsertRowid);
  const { runs } = expandSweep(spec);
  const insertRun = db.prepare(`
    INSERT INTO runs (sweep_id, group_key, run_key, model, dataset, seed, lr, batch_size, epochs, status, priority, spec_json, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, 1)`);
  const insertGroup = db.prepare(`
    INSERT INTO config_groups (group_key, model, dataset, lr, batch_size, epochs, config_json) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (group_key) DO NOTHING`);
  for (const run of runs) {
    const key = oldGroupKey(run);
    insertRun.run(sweepId, key, `${key}:${run.seed}`, run.model, run.dataset, run.seed, run.lr, run.batchSize, run.epochs, JSON.stringify(run));
    insertGroup.run(key, run.model, run.dataset, run.lr, run.batchSize, run.epochs, canonicalJson(groupConfig(run)));
  }
  db.close();
  return runs;
}

describe('migration 3: config-group keys without default-valued fields', () => {
  it('re-keys an old store so that re-submitting its sweep adds no run and its groups still aggregate', async () => {
    const file = join(tmp.dir, 'old.db');
    const runs = oldStore(file);
    const before = new Database(file, { readonly: true });
    const oldKeys = (before.prepare(`SELECT group_key FROM runs ORDER BY id`).all() as { group_key: string }[]).map((r) => r.group_key);
    before.close();
    // the old keys hash momentum, weightDecay, schedule…: without the migration every key would miss
    expect(oldKeys).toEqual(runs.map(oldGroupKey));
    for (const run of runs) expect(configGroupKey(run)).not.toBe(oldGroupKey(run));

    const store = ExperimentStore.open(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    const stored = store.listRuns();
    expect(stored.map((r) => r.groupKey)).toEqual(runs.map(configGroupKey));
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare(`SELECT run_key FROM runs ORDER BY id`).all()).toEqual(runs.map((r) => ({ run_key: runKey(r) })));
    raw.close();

    // finish both seeds of one group: the aggregate joins runs to config_groups by the new key
    const [first] = stored;
    const sameGroup = stored.filter((r) => r.groupKey === first.groupKey);
    expect(sameGroup).toHaveLength(2);
    for (const [i, run] of sameGroup.entries()) {
      store.markRunning(run.id, 'cpu:0');
      store.finishRun(run.id, finalMetrics({ test_acc: 0.4 + i * 0.1 }));
    }
    const group = store.aggregates({ sweepId: first.sweepId }).find((g) => g.groupKey === first.groupKey);
    expect(group).toMatchObject({ groupKey: first.groupKey, model: first.model, n: 2 });

    const service = new NormLabService(store);
    const again = await service.submitSweep(sweepInput);
    expect(again.runs).toMatchObject({ total: runs.length, created: 0, existing: runs.length });
    expect(store.countRuns()).toBe(runs.length);
    store.close();
  });

  it('re-keys config groups no run refers to any more, from their stored config', () => {
    const file = join(tmp.dir, 'orphan.db');
    const runs = oldStore(file);
    const db = new Database(file);
    db.exec(`DELETE FROM runs`);
    migrate(db);
    const keys = (db.prepare(`SELECT group_key FROM config_groups ORDER BY group_key`).all() as { group_key: string }[]).map((r) => r.group_key);
    db.close();
    expect(keys).toEqual([...new Set(runs.map(configGroupKey))].sort());
  });
});

describe('config-group keys', () => {
  const specs = [
    parseRunSpec({ model: 'knresnet18', dataset: 'synthetic', epochs: 3, batchSize: 32, lr: 0.1 }),
    parseRunSpec({ model: 'resnet18_gn', dataset: 'cifar10', dataDir: '/c', epochs: 3, batchSize: 32, lr: 0.1, groups: 16, momentum: 0.8 }),
    parseRunSpec({ model: 'knresnet18', dataset: 'folder', dataDir: '/in', epochs: 3, batchSize: 32, lr: 0.1, schedule: { kind: 'poly' } }),
    parseRunSpec(resolvePreset({ preset: 'dp-paper', dataset: 'synthetic' })),
    parseRunSpec(resolvePreset({ preset: 'imagenet-paper', model: 'resnet18_bn', dataDir: '/in' })),
  ];

  it('do not change when a field with a default is added to the schema, at the top or inside dp', () => {
    const extended = runSpecSchema.extend({
      labelSmoothing: z.number().min(0).max(1).default(0),
      dp: dpOptionsSchema.extend({ accountant: z.enum(['rdp', 'prv']).default('rdp') }).optional(),
    });
    for (const spec of specs) {
      const { seed: _seed, ...input } = spec;
      const reparsed = extended.parse({ ...input, seed: spec.seed });
      expect(reparsed.labelSmoothing).toBe(0);
      if (spec.dp) expect(reparsed.dp?.accountant).toBe('rdp');
      expect(groupKeyOfConfig(groupConfig(reparsed as RunSpec), extended)).toBe(configGroupKey(spec));
      // a value other than the new default is a different experiment
      expect(groupKeyOfConfig(groupConfig({ ...reparsed, labelSmoothing: 0.1 }), extended)).not.toBe(configGroupKey(spec));
    }
  });

  it('are equal for a default written out and one left implicit, and differ when a value differs', () => {
    const implicit = parseRunSpec({ model: 'kn_cnn', dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 });
    const explicit = parseRunSpec({ model: 'kn_cnn', dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1, momentum: 0.9, schedule: { kind: 'cosine', decay: 0.01 } });
    expect(configGroupKey(explicit)).toBe(configGroupKey(implicit));
    expect(configGroupKey({ ...implicit, momentum: 0.5 })).not.toBe(configGroupKey(implicit));
    expect(configGroupKey({ ...implicit, schedule: { kind: 'cosine', decay: 0.1 } })).not.toBe(configGroupKey(implicit));
    // seeds and execution fields stay out; lr stays out of the search family only
    expect(configGroupKey({ ...implicit, seed: 9, backend: 'wasm', statsEvery: 0 })).toBe(configGroupKey(implicit));
    expect(searchFamilyKey({ ...implicit, lr: 0.5 })).toBe(searchFamilyKey(implicit));
    expect(configGroupKey({ ...implicit, lr: 0.5 })).not.toBe(configGroupKey(implicit));
  });
});
