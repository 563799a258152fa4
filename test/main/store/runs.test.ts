import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore, InvalidTransitionError, configGroupKey } from '../../../src-main/store';
import { finalMetrics, spec, tempDir } from './helpers';

const tmp = tempDir('store-runs');
afterAll(() => tmp.cleanup());
let counter = 0;
function freshStore(): ExperimentStore {
  return ExperimentStore.open(join(tmp.dir, `runs-${++counter}.db`));
}

describe('runs', () => {
  it('rejects a status outside the closed set at the database level', () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [run] = store.addRuns(sweep.id, [spec()]).runs;
    const file = store.file;
    store.close();
    const raw = new Database(file);
    expect(() => raw.prepare(`UPDATE runs SET status = 'paused' WHERE id = ?`).run(run.id)).toThrow(/CHECK constraint failed/);
    expect(() => raw.prepare(`UPDATE runs SET status = 'diverged' WHERE id = ?`).run(run.id)).not.toThrow();
    raw.close();
  });

  it('adds each (sweep, config, seed) once: re-adding reports existing runs with their status', () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 'kn-vs-bn', spec: { v: 1 } });
    const first = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 })]);
    expect([first.created, first.existing]).toEqual([2, 0]);
    const claimed = store.claimNext('cpu:0')!;
    store.finishRun(claimed.id, finalMetrics());

    // same configs written differently (explicit defaults, another backend) plus one new seed
    const again = store.addRuns(sweep.id, [
      spec({ seed: 1, momentum: 0.9, backend: 'cpu' }),
      spec({ seed: 2 }),
      spec({ seed: 3 }),
    ]);
    expect([again.created, again.existing]).toEqual([1, 2]);
    expect(again.runs.map((r) => [r.id, r.created, r.status])).toEqual([
      [first.runs[0].id, false, 'finished'],
      [first.runs[1].id, false, 'queued'],
      [expect.any(Number), true, 'queued'],
    ]);
    expect(store.countRuns({ sweepId: sweep.id })).toBe(3);
    // the same configs in another sweep are other runs
    const other = store.upsertSweep({ name: 'other', spec: {} }).sweep;
    expect(store.addRuns(other.id, [spec({ seed: 1 })]).created).toBe(1);
    // upsertSweep by an existing name returns that sweep, with the newer spec
    const resubmitted = store.upsertSweep({ name: 'kn-vs-bn', spec: { v: 2 } });
    expect([resubmitted.created, resubmitted.sweep.id, resubmitted.sweep.spec]).toEqual([false, sweep.id, { v: 2 }]);
    store.close();
  });

  it('keeps group key, params and spec, and filters runs', () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const specs = [spec({ model: 'knresnet18', seed: 1 }), spec({ model: 'knresnet18', seed: 2 }), spec({ model: 'resnet18', seed: 1 })];
    store.addRuns(sweep.id, specs);
    const runs = store.listRuns({ sweepId: sweep.id });
    expect(runs[0].groupKey).toBe(runs[1].groupKey);
    expect(runs[0].groupKey).not.toBe(runs[2].groupKey);
    expect(runs[0].groupKey).toBe(configGroupKey(specs[0]));
    expect(runs[0].spec).toEqual({ ...specs[0], runId: runs[0].id });
    expect(store.getParams(runs[2].id)).toMatchObject({ model: 'resnet18', seed: '1', lr: '0.1', schedule: '{"decay":0.01,"kind":"cosine"}' });
    expect(store.listRuns({ model: 'resnet18' }).map((r) => r.id)).toEqual([runs[2].id]);
    expect(store.listRuns({ groupKey: runs[0].groupKey, limit: 1, offset: 1 }).map((r) => r.id)).toEqual([runs[1].id]);
    expect(store.listRuns({ status: ['running', 'finished'] })).toEqual([]);
    store.close();
  });

  it('claims queued runs by priority, then first in first out, one at a time', () => {
    const store = freshStore();
    const low = store.upsertSweep({ name: 'low', spec: {}, priority: 0 }).sweep;
    const high = store.upsertSweep({ name: 'high', spec: {}, priority: 5 }).sweep;
    const a = store.addRuns(low.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs.map((r) => r.id);
    const b = store.addRuns(high.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs.map((r) => r.id);
    const urgent = store.addRuns(low.id, [spec({ seed: 9 })], { priority: 9 }).runs[0].id;

    const order: number[] = [];
    for (let claimed = store.claimNext('gpu:0'); claimed; claimed = store.claimNext('gpu:1')) order.push(claimed.id);
    expect(order).toEqual([urgent, b[0], b[1], a[0], a[1]]);
    const first = store.getRun(urgent)!;
    expect([first.status, first.device, first.attempts, first.startedAt !== null]).toEqual(['running', 'gpu:0', 1, true]);
    expect(store.claimNext('gpu:0')).toBeUndefined();
    store.close();
  });

  it('enforces status transitions and names the run and both states when one is refused', () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [id] = store.addRuns(sweep.id, [spec()]).runs.map((r) => r.id);
    expect(() => store.finishRun(id, finalMetrics())).toThrow(InvalidTransitionError);
    expect(() => store.finishRun(id, finalMetrics())).toThrow(`run ${id}: cannot go from queued to finished`);
    store.markRunning(id, 'cpu:0');
    const done = store.finishRun(id, finalMetrics({ test_acc: 0.61, best_test_acc: 0.63 }));
    expect([done.status, done.finalTestAcc, done.bestTestAcc, done.finishedAt !== null]).toEqual(['finished', 0.61, 0.63, true]);
    expect(() => store.requeue(id)).toThrow(/cannot go from finished to queued/);
    expect(() => store.markRunning(999, 'cpu:0')).toThrow('run 999 does not exist');
    store.close();
  });

  it('marks runs left running by a dead process as interrupted on the next start, and requeues them', () => {
    const file = join(tmp.dir, 'restart.db');
    const first = ExperimentStore.open(file);
    const { sweep } = first.upsertSweep({ name: 's', spec: {} });
    const ids = first.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 }), spec({ seed: 3 })]).runs.map((r) => r.id);
    first.claimNext('gpu:0');
    first.claimNext('gpu:1');
    first.finishRun(ids[1], finalMetrics());
    first.close(); // the app "crashes" with ids[0] still running

    const second = ExperimentStore.open(file);
    expect(second.markInterruptedAtStartup()).toEqual([ids[0]]);
    expect(second.listRuns().map((r) => r.status)).toEqual(['interrupted', 'finished', 'queued']);
    const requeued = second.requeue(ids[0]);
    expect([requeued.status, requeued.device, requeued.errorReason]).toEqual(['queued', null, null]);
    expect(second.getLogs(ids[0]).map((l) => l.message)).toEqual([
      'requeued after interrupted: the process running it exited before it finished',
    ]);
    const reclaimed = second.claimNext('gpu:0')!;
    expect([reclaimed.id, reclaimed.attempts]).toEqual([ids[0], 2]);
    const failed = second.failRun(reclaimed.id, 'out of memory', 'x'.repeat(10_000) + 'END');
    expect(failed.stderrTail!.length).toBe(8000);
    expect(failed.stderrTail!.endsWith('END')).toBe(true);
    expect(second.requeue(reclaimed.id).status).toBe('queued');
    second.close();
  });
});
