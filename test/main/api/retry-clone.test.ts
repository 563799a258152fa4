import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService, type RunController } from '../../../src-main/api';
import { ExperimentStore } from '../../../src-main/store';
import { finalMetrics, spec, tempDir } from '../store/helpers';
import { storedRows } from './db-rows';
import { refusal } from './service-fixtures';

const tmp = tempDir('retry-clone');
afterAll(() => tmp.cleanup());

function ended(store: ExperimentStore, runId: number, status: 'finished' | 'diverged'): void {
  store.markRunning(runId, 'cpu:0');
  store.apply(runId, { event: 'done', status, metrics: finalMetrics() });
}

describe('retry with changes ("clone and edit")', () => {
  const file = join(tmp.dir, 'clone.db');
  const store = ExperimentStore.open(file);
  const queued: string[] = [];
  const controller: RunController = {
    cancel: async () => {},
    retry: async (id) => void store.requeue(id),
    pause: async () => {},
    resume: async () => {},
    devices: async () => [],
    queueChanged: () => void queued.push('queueChanged'),
  };
  const service = new NormLabService(store, controller);
  const { sweep } = store.upsertSweep({ name: 's', spec: {}, priority: 3 });
  const [diverged, finished, other] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 }), spec({ seed: 3 })], { priority: 3 }).runs;
  ended(store, diverged.id, 'diverged');
  ended(store, finished.id, 'finished');
  ended(store, other.id, 'diverged');
  afterAll(() => store.close());

  it('queues a new run in the same sweep with the edited spec and leaves the original as it was', async () => {
    const original = store.getRun(diverged.id)!;
    const clone = await service.retry(original.id, { lr: 0.05, epochs: 5 });
    expect(clone.id).not.toBe(original.id);
    expect(clone).toMatchObject({ sweepId: sweep.id, status: 'queued', lr: 0.05, epochs: 5, seed: 1, priority: 3, model: original.model });
    expect(clone.spec).toMatchObject({ lr: 0.05, epochs: 5, resume: false });
    expect(clone.groupKey).not.toBe(original.groupKey);
    expect(store.getRun(original.id)).toEqual(original);
    const detail = await service.getRun(clone.id);
    expect(detail.params).toMatchObject({ lr: '0.05', epochs: '5' });
    expect((await service.getRunLogs(clone.id)).map((l) => l.message)).toEqual([
      `cloned from run ${original.id} (diverged) with lr 0.1 → 0.05, epochs 3 → 5`,
    ]);
    expect(queued).toEqual(['queueChanged']);
  });

  it('a new seed alone stays in the config group; the same edit twice is a conflict naming the run it would duplicate', async () => {
    const original = store.getRun(other.id)!;
    const reseeded = await service.retry(original.id, { seed: 7 });
    expect([reseeded.seed, reseeded.groupKey]).toEqual([7, original.groupKey]);
    const rows = storedRows(file);
    const again = await refusal(service.retry(original.id, { seed: 7 }));
    expect(again.code).toBe('conflict');
    expect(again.message).toBe(`sweep ${sweep.id} already has this config and seed: run ${reseeded.id} (queued); retry that run instead`);
    expect(storedRows(file)).toEqual(rows);
  });

  it('without changes (or with the run\'s own values) it requeues the run itself, as before', async () => {
    const original = store.getRun(other.id)!;
    const same = await service.retry(original.id, { lr: original.lr, seed: original.seed });
    expect([same.id, same.status]).toEqual([original.id, 'queued']);
  });

  it('refuses what the state machine forbids (409 with the store\'s reason) and changes outside the run spec\'s rules', async () => {
    const rows = storedRows(file);
    const forbidden = await refusal(service.retry(finished.id, { lr: 0.01 }));
    expect(forbidden.code).toBe('conflict');
    expect(forbidden.message).toBe(`run ${finished.id}: cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`);
    const bad = await refusal(service.retry(diverged.id, { lr: -1, epochs: 1.5 }));
    expect(bad.code).toBe('invalid_input');
    expect(bad.problems).toEqual([expect.stringMatching(/^changes\.lr: /), expect.stringMatching(/^changes\.epochs: /)]);
    expect(storedRows(file)).toEqual(rows);
  });
});
