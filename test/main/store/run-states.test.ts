import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../../src-main/api/service';
import { ExperimentStore, InvalidTransitionError } from '../../../src-main/store';
import {
  RUN_STATUSES, allowedActions, canTransition, retryLabel, transitionSources, type RunStatus,
} from '../../../src-main/store/run-states';
import { RUN_STATUSES as TYPES_RUN_STATUSES } from '../../../src-main/store/types';
import { finalMetrics, spec, tempDir } from './helpers';

const tmp = tempDir('run-states');
afterAll(() => tmp.cleanup());
let counter = 0;
const freshStore = () => ExperimentStore.open(join(tmp.dir, `states-${++counter}.db`));

/** The rule as the issue states it: rows are `from`, columns the target, in RUN_STATUSES order. */
const S: RunStatus[] = ['queued', 'running', 'finished', 'failed', 'diverged', 'cancelled', 'interrupted'];
const EXPECTED: Record<RunStatus, RunStatus[]> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['finished', 'failed', 'diverged', 'cancelled', 'interrupted'],
  finished: [],
  failed: ['queued'],
  diverged: ['queued'],
  cancelled: ['queued'],
  interrupted: ['queued', 'cancelled'],
};

describe('the run state machine', () => {
  it('lists the statuses once, the same set the schema CHECK and types.ts use', () => {
    expect([...RUN_STATUSES]).toEqual(S);
    expect(TYPES_RUN_STATUSES).toBe(RUN_STATUSES);
  });

  it('allows exactly the expected transitions, for every status × target', () => {
    for (const from of S) {
      for (const to of S) {
        expect(canTransition(from, to), `${from} → ${to}`).toBe(EXPECTED[from].includes(to));
      }
    }
    for (const to of S) expect([...transitionSources(to)].sort()).toEqual(S.filter((f) => EXPECTED[f].includes(to)).sort());
  });

  it('derives the user actions per status', () => {
    const actions = Object.fromEntries(S.map((s) => [s, allowedActions(s)]));
    expect(actions).toEqual({
      queued: ['cancel'],
      running: ['cancel'],
      finished: [],
      failed: ['retry'],
      diverged: ['retry'],
      cancelled: ['retry'],
      interrupted: ['retry', 'cancel'],
    });
    expect(S.filter((s) => retryLabel(s) === 'Retry')).toEqual(['failed', 'diverged']);
  });
});

/** A run of `status`, reached through the store's own transitions. */
function runIn(store: ExperimentStore, sweepId: number, status: RunStatus, seed: number): number {
  const [run] = store.addRuns(sweepId, [spec({ seed })]).runs;
  const id = run.id;
  if (status === 'queued') return id;
  store.markRunning(id, 'cpu:0');
  if (status === 'finished') store.finishRun(id, finalMetrics());
  if (status === 'failed') store.failRun(id, 'boom');
  if (status === 'diverged') store.divergeRun(id, 'nan');
  if (status === 'cancelled') store.cancelRun(id);
  if (status === 'interrupted') store.interruptRun(id);
  expect(store.getRun(id)!.status).toBe(status);
  return id;
}

const MOVE: Record<RunStatus, (store: ExperimentStore, id: number) => unknown> = {
  queued: (s, id) => s.requeue(id),
  running: (s, id) => s.markRunning(id, 'cpu:0'),
  finished: (s, id) => s.finishRun(id, finalMetrics()),
  failed: (s, id) => s.failRun(id, 'boom'),
  diverged: (s, id) => s.divergeRun(id, 'nan'),
  cancelled: (s, id) => s.cancelRun(id),
  interrupted: (s, id) => s.interruptRun(id),
};

describe('the store enforces the table', () => {
  it('accepts a transition exactly when canTransition does, for every status × target', () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    let seed = 0;
    for (const from of S) {
      for (const to of S) {
        const id = runIn(store, sweep.id, from, ++seed);
        if (canTransition(from, to)) {
          MOVE[to](store, id);
          expect(store.getRun(id)!.status, `${from} → ${to}`).toBe(to);
        } else {
          expect(() => MOVE[to](store, id), `${from} → ${to}`).toThrow(InvalidTransitionError);
          expect(store.getRun(id)!.status).toBe(from);
        }
      }
    }
    store.close();
  });

  it('requeues a diverged run (from a done event) and refuses a finished one with the reason', async () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [a, b] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs;
    for (const [run, status] of [[a, 'diverged'], [b, 'finished']] as const) {
      store.claimNext('cpu:0');
      store.apply(run.id, { event: 'done', status, metrics: finalMetrics() });
      expect(store.getRun(run.id)!.status).toBe(status);
    }
    const service = new NormLabService(store);
    expect((await service.retry(a.id)).status).toBe('queued');
    expect(store.getRun(a.id)!.errorReason).toBeNull();
    expect(() => store.requeue(b.id)).toThrow(`run ${b.id}: cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`);
    const refused = await service.retry(b.id).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'conflict', message: `run ${b.id}: cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)` });
    store.close();
  });

  it('says so when an attached scheduler does not requeue the run (no silent drop)', async () => {
    const store = freshStore();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const id = runIn(store, sweep.id, 'diverged', 1);
    const swallowing = {
      cancel: async () => {}, retry: async () => {}, pause: async () => {}, resume: async () => {}, devices: async () => [],
    };
    const refused = await new NormLabService(store, swallowing).retry(id).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'conflict', message: `run ${id} was not requeued: it is still diverged; see its log` });
    const real = { ...swallowing, retry: async (runId: number) => void store.requeue(runId) };
    expect((await new NormLabService(store, real).retry(id)).status).toBe('queued');
    store.close();
  });
});
