import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore, InvalidTransitionError } from '../../../src-main/store';
import { openDatabase } from '../../../src-main/store/connection';
import { RunLifecycle } from '../../../src-main/store/run-lifecycle';
import { RunLogs } from '../../../src-main/store/run-logs';
import { RUN_STATUSES, canTransition, transitionSources, type RunStatus } from '../../../src-main/store/run-states';
import { Runs } from '../../../src-main/store/runs';
import { statementCache, type StoreContext } from '../../../src-main/store/store-context';
import { Sweeps } from '../../../src-main/store/sweeps';
import { finalMetrics, spec, tempDir } from './helpers';

/**
 * Every way the store changes a run's status, each tried from every status, on a real store file whose runs table
 * has a trigger recording each status change SQLite makes. A move must happen exactly when run-states.ts allows
 * it, and SQLite must see no status change the test did not ask for: a status written in raw SQL anywhere in the
 * store (as claimNext and markInterruptedAtStartup once did) would show up as either.
 */
const tmp = tempDir('status-writes');
afterAll(() => tmp.cleanup());
let counter = 0;
/** A migrated store file with the audit trigger, copied for each case (migrating ~100 files would be slow). */
let template: string;

beforeAll(() => {
  template = join(tmp.dir, 'template.db');
  ExperimentStore.open(template).close();
  const raw = new Database(template);
  raw.exec(`
    CREATE TABLE status_audit (seq INTEGER PRIMARY KEY, old TEXT NOT NULL, new TEXT NOT NULL);
    CREATE TRIGGER audit_status AFTER UPDATE OF status ON runs WHEN OLD.status IS NOT NEW.status
    BEGIN INSERT INTO status_audit (old, new) VALUES (OLD.status, NEW.status); END`);
  // one file, no WAL beside it, so a copy of it is the whole store
  raw.pragma('journal_mode = DELETE');
  raw.close();
});

function auditedStore(): { store: ExperimentStore; statusChanges: () => [RunStatus, RunStatus][] } {
  const file = join(tmp.dir, `audited-${++counter}.db`);
  copyFileSync(template, file);
  const store = ExperimentStore.open(file);
  const statusChanges = () => {
    store.flush();
    const reader = new Database(file, { readonly: true });
    try {
      return (reader.prepare(`SELECT old, new FROM status_audit ORDER BY seq`).all() as { old: RunStatus; new: RunStatus }[]).map(
        (r): [RunStatus, RunStatus] => [r.old, r.new],
      );
    } finally {
      reader.close();
    }
  };
  return { store, statusChanges };
}

/** A run of `status`, reached through the store's own transitions; returns it and the moves that took. */
function runIn(store: ExperimentStore, status: RunStatus): { id: number; path: [RunStatus, RunStatus][] } {
  const { sweep } = store.upsertSweep({ name: 's', spec: {} });
  const id = store.addRuns(sweep.id, [spec()]).runs[0].id;
  if (status === 'queued') return { id, path: [] };
  store.markRunning(id, 'cpu:0');
  const path: [RunStatus, RunStatus][] = [['queued', 'running']];
  if (status === 'running') return { id, path };
  const end: Record<Exclude<RunStatus, 'queued' | 'running'>, () => unknown> = {
    finished: () => store.finishRun(id, finalMetrics()),
    failed: () => store.failRun(id, 'boom'),
    diverged: () => store.divergeRun(id, 'nan'),
    cancelled: () => store.cancelRun(id),
    interrupted: () => store.interruptRun(id),
  };
  end[status]();
  return { id, path: [...path, ['running', status]] };
}

interface Writer {
  name: string;
  to: RunStatus;
  /** Whether the writer asks for the move at all from `from` (a started event only moves a queued run). */
  asks?: (from: RunStatus) => boolean;
  write: (store: ExperimentStore, id: number) => unknown;
}

const done = (status: 'finished' | 'failed' | 'diverged' | 'cancelled' | 'interrupted'): Writer => ({
  name: `done(${status}) event`,
  to: status,
  write: (s, id) => s.apply(id, { event: 'done', status, metrics: finalMetrics() }),
});

const WRITERS: Writer[] = [
  { name: 'claimNext', to: 'running', write: (s) => s.claimNext('gpu:0', 'me') },
  { name: 'markRunning', to: 'running', write: (s, id) => s.markRunning(id, 'cpu:0') },
  {
    name: 'started event',
    to: 'running',
    asks: (from) => from === 'queued',
    write: (s, id) => s.apply(id, { event: 'started', backend: 'cpu', device: 'cpu', skippedBackends: [], resumedFromEpoch: 0, numParams: 1 }),
  },
  { name: 'finishRun', to: 'finished', write: (s, id) => s.finishRun(id, finalMetrics()) },
  { name: 'failRun', to: 'failed', write: (s, id) => s.failRun(id, 'boom', 'tail') },
  { name: 'divergeRun', to: 'diverged', write: (s, id) => s.divergeRun(id, 'nan') },
  { name: 'cancelRun', to: 'cancelled', write: (s, id) => s.cancelRun(id) },
  { name: 'interruptRun', to: 'interrupted', write: (s, id) => s.interruptRun(id) },
  { name: 'markInterruptedAtStartup', to: 'interrupted', write: (s) => s.markInterruptedAtStartup('another-owner') },
  { name: 'requeue', to: 'queued', write: (s, id) => s.requeue(id) },
  done('finished'),
  done('failed'),
  done('diverged'),
  done('cancelled'),
  done('interrupted'),
];

describe('every status write goes through the state machine', () => {
  it.each(WRITERS.map((w) => [w.name, w] as const))('%s moves a run exactly when run-states.ts allows it', (_name, writer) => {
    for (const from of RUN_STATUSES) {
      const { store, statusChanges } = auditedStore();
      const { id, path } = runIn(store, from);
      let refused: unknown = null;
      try {
        writer.write(store, id);
      } catch (error) {
        refused = error;
      }
      const moves = (writer.asks?.(from) ?? true) && canTransition(from, writer.to);
      const what = `${writer.name} from ${from}`;
      expect(store.getRun(id)!.status, what).toBe(moves ? writer.to : from);
      // refused moves fail loudly where the caller names one run, and quietly where it selects runs by status
      if (!moves && refused !== null) expect(refused, what).toBeInstanceOf(InvalidTransitionError);
      if (moves) expect(refused, what).toBeNull();
      expect(statusChanges(), what).toEqual(moves ? [...path, [from, writer.to]] : path);
      store.close();
    }
  });

  it('failOrRetry fails the run and requeues it, each step allowed by the table, or changes nothing', () => {
    for (const from of RUN_STATUSES) {
      const { store, statusChanges } = auditedStore();
      const { id, path } = runIn(store, from);
      const fails = canTransition(from, 'failed');
      if (fails) {
        expect(store.failOrRetry(id, 'killed by SIGKILL', 'tail', 1), from).toBe(canTransition('failed', 'queued'));
        expect(statusChanges(), from).toEqual([...path, [from, 'failed'], ['failed', 'queued']]);
        // out of automatic retries: failed, and it stays failed
        store.claimNext('cpu:0');
        expect(store.failOrRetry(id, 'killed again', 'tail', 1)).toBe(false);
        expect(store.getRun(id)!.status).toBe('failed');
        expect(statusChanges().slice(-2)).toEqual([['queued', 'running'], ['running', 'failed']]);
      } else {
        expect(() => store.failOrRetry(id, 'killed by SIGKILL', 'tail', 1), from).toThrow(InvalidTransitionError);
        expect(store.getRun(id)!.status).toBe(from);
        expect(statusChanges(), from).toEqual(path);
      }
      store.close();
    }
  });

  it('claimNext takes runs only from the queue and markInterruptedAtStartup leaves this owner\'s runs running', () => {
    const { store, statusChanges } = auditedStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [mine, theirs, waiting] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 }), spec({ seed: 3 })]).runs.map((r) => r.id);
    expect(store.claimNext('gpu:0', 'me')!.id).toBe(mine);
    expect(store.claimNext('gpu:1', 'dead')!.id).toBe(theirs);
    store.interruptRun(theirs);
    // an interrupted run is resumed by a requeue, never claimed directly
    expect(store.claimNext('gpu:1', 'me')!.id).toBe(waiting);
    expect(store.claimNext('gpu:2', 'me')).toBeUndefined();
    store.cancelRun(waiting);
    expect(store.markInterruptedAtStartup('me')).toEqual([]);
    expect(store.getRun(mine)!.status).toBe('running');
    expect(statusChanges()).toEqual([
      ['queued', 'running'], ['queued', 'running'], ['running', 'interrupted'], ['queued', 'running'], ['running', 'cancelled'],
    ]);
    store.close();
  });
});

describe('the lifecycle takes its rule from the table it is given', () => {
  /** The lifecycle on its own, over a real store file, with `sources` in place of run-states.ts. */
  function lifecycleWith(sources: (to: RunStatus) => readonly RunStatus[]) {
    const file = join(tmp.dir, `lifecycle-${++counter}.db`);
    copyFileSync(template, file);
    const db = openDatabase(file);
    const ctx: StoreContext = { db, file, now: Date.now, stmt: statementCache(db), flush: () => 0 };
    const sweeps = new Sweeps(ctx);
    const runs = new Runs(ctx, sweeps);
    const lifecycle = new RunLifecycle(ctx, runs, new RunLogs(ctx), sources);
    const sweepId = sweeps.upsert({ name: 's', spec: {} }).sweep.id;
    const ids = runs.add(sweepId, [spec({ seed: 1 }), spec({ seed: 2 })]).runs.map((r) => r.id);
    return { db, runs, lifecycle, ids };
  }

  it('claimNext and markInterruptedAtStartup obey a table in which their moves are forbidden', () => {
    const forbidding = (to: RunStatus) => (to === 'running' || to === 'interrupted' ? [] : transitionSources(to));
    const strict = lifecycleWith(forbidding);
    expect(strict.lifecycle.claimNext('gpu:0', 'me')).toBeUndefined();
    expect(() => strict.lifecycle.markRunning(strict.ids[0], 'gpu:0')).toThrow(`run ${strict.ids[0]}: cannot go from queued to running`);
    expect(strict.runs.list().map((r) => r.status)).toEqual(['queued', 'queued']);
    strict.db.close();

    // the same file layout with the real table: claims, then a start-up recovery by another owner interrupts
    const real = lifecycleWith(transitionSources);
    expect(real.lifecycle.claimNext('gpu:0', 'dead')!.id).toBe(real.ids[0]);
    const interrupting = lifecycleWith((to) => (to === 'interrupted' ? [] : transitionSources(to)));
    interrupting.lifecycle.claimNext('gpu:0', 'dead');
    expect(interrupting.lifecycle.markInterruptedAtStartup('me')).toEqual([]);
    expect(interrupting.runs.get(interrupting.ids[0])!.status).toBe('running');
    expect(real.lifecycle.markInterruptedAtStartup('me')).toEqual([real.ids[0]]);
    real.db.close();
    interrupting.db.close();
  });
});
