import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { schedulerStoreFor } from '../../../src-main/scheduler/store-adapter';
import { withJobRecords } from '../../../src-main/slurm/job-records';
import { ExperimentStore, MIGRATIONS } from '../../../src-main/store';
import { NORMLAB_APPLICATION_ID } from '../../../src-main/store/connection';
import { migrate } from '../../../src-main/store/migrations';
import { finalMetrics, spec, tempDir } from './helpers';

const tmp = tempDir('executor-handles');
afterAll(() => tmp.cleanup());

/** A store as NormLab at schema version 3 left it (before runs.job_id), with one queued run. */
function version3Store(file: string): void {
  const db = new Database(file);
  migrate(db, MIGRATIONS.slice(0, 3));
  db.pragma(`application_id = ${NORMLAB_APPLICATION_ID}`);
  const sweepId = Number(db.prepare(`INSERT INTO sweeps (name, spec_json, priority, created_at, updated_at) VALUES ('old', '{}', 0, 1, 1)`).run().lastInsertRowid);
  const run = spec({ seed: 1 });
  db.prepare(`
    INSERT INTO runs (sweep_id, group_key, run_key, model, dataset, seed, lr, batch_size, epochs, status, priority, spec_json, created_at)
    VALUES (?, 'g', 'g:1', ?, ?, 1, ?, ?, ?, 'queued', 0, ?, 1)`).run(sweepId, run.model, run.dataset, run.lr, run.batchSize, run.epochs, JSON.stringify(run));
  db.close();
}

function freshStore(name: string, runs: number): { store: ExperimentStore; ids: number[] } {
  const store = ExperimentStore.open(join(tmp.dir, name));
  const { sweep } = store.upsertSweep({ name, spec: {} });
  const ids = store.addRuns(sweep.id, Array.from({ length: runs }, (_, i) => spec({ seed: i + 1 }))).runs.map((r) => r.id);
  return { store, ids };
}

describe('runs.job_id and the re-attach members of the scheduler store', () => {
  it('migration 4 adds job_id to a store made before it, keeping its runs', () => {
    const file = join(tmp.dir, 'v3.db');
    version3Store(file);
    const store = ExperimentStore.open(file);
    try {
      expect(store.schemaVersion).toBe(MIGRATIONS.length);
      const [run] = store.listRuns();
      expect(run).toMatchObject({ status: 'queued', seed: 1, jobId: null });
      store.recordExecutorHandle(run?.id ?? -1, '17');
      expect(store.getRun(run?.id ?? -1)?.jobId).toBe('17');
    } finally {
      store.close();
    }
  });

  it('lists only running runs with a handle, and keeps the handle after the run ends', () => {
    const { store, ids } = freshStore('attachable.db', 3);
    const [withJob, withoutJob, ended] = ids as [number, number, number];
    const s = schedulerStoreFor(store);
    for (const id of ids) expect(store.claimNext(`slurm#${id}`, 'manager-a')?.id).toBe(id);
    s.recordExecutorHandle?.(withJob, '101');
    s.recordExecutorHandle?.(ended, '103');
    store.apply(ended, { event: 'done', status: 'finished', metrics: finalMetrics() });
    store.flush();

    expect(s.attachableRuns?.()).toEqual([
      { id: withJob, spec: store.getRun(withJob)?.spec, journalAck: store.getRun(withJob)?.journalAck, unit: `slurm#${withJob}`, handle: '101' },
    ]);
    expect(store.getRun(ended)).toMatchObject({ status: 'finished', jobId: '103' });
    expect(store.getRun(withoutJob)?.jobId).toBeNull();
    store.close();
  });

  it('adoptRun takes over only a running run, so a restarted manager\'s recovery leaves it running with no extra attempt', () => {
    const { store, ids } = freshStore('adopt.db', 2);
    const [alive, gone] = ids as [number, number];
    const s = schedulerStoreFor(store);
    for (const id of ids) expect(store.claimNext('slurm#1', 'dead-manager')?.id).toBe(id);
    s.recordExecutorHandle?.(alive, '201');
    s.recordExecutorHandle?.(gone, '202');
    store.cancelRun(gone);

    expect(s.adoptRun?.(alive, 'new-manager')).toBe(true);
    expect(s.adoptRun?.(gone, 'new-manager')).toBe(false);
    expect(s.recoverInterrupted('new-manager')).toBe(0);
    expect(store.getRun(alive)).toMatchObject({ status: 'running', owner: 'new-manager', attempts: 1, jobId: '201' });
    expect(store.getRun(gone)).toMatchObject({ status: 'cancelled', owner: 'dead-manager' });
    store.close();
  });

  it('setRunDevice records the node of a running run and leaves an ended one alone', () => {
    const { store, ids } = freshStore('device.db', 2);
    const [running, ended] = ids as [number, number];
    const s = schedulerStoreFor(store);
    for (const id of ids) expect(store.claimNext('slurm#1', 'm')?.id).toBe(id);
    store.cancelRun(ended);
    s.setRunDevice?.(running, 'node-07');
    s.setRunDevice?.(ended, 'node-08');
    expect(store.getRun(running)?.device).toBe('node-07');
    expect(store.getRun(ended)?.device).toBe('slurm#1');
    store.close();
  });

  it('withJobRecords hands back the store adapter unchanged, since it keeps handles itself', () => {
    const { store } = freshStore('records.db', 0);
    const base = schedulerStoreFor(store);
    expect(withJobRecords(base, store)).toBe(base);
    store.close();
  });
});
