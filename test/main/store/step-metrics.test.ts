import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../../src-main/store';
import type { StepPoint } from '../../../src-worker/protocol';
import { finalMetrics, sampleSd, spec, tempDir } from './helpers';

const tmp = tempDir('store-steps');
let store: ExperimentStore;
let ids: number[];

// three seeds of one config, logging every 5 steps over 2 epochs of 10 steps; seed 3 diverged after step 10
const loss = (seed: number, step: number) => 2.5 - step * 0.05 + seed * 0.01 * (step % 3);
const points = (seed: number, from: number, to: number): StepPoint[] =>
  Array.from({ length: (to - from) / 5 + 1 }, (_, k) => from + 5 * k).map((step) => ({ step, train_loss: loss(seed, step), lr: 0.1 / step }));

beforeAll(() => {
  store = ExperimentStore.open(join(tmp.dir, 'steps.db'));
  const sweepId = store.upsertSweep({ name: 'steps', spec: {} }).sweep.id;
  ids = store.addRuns(sweepId, [1, 2, 3].map((seed) => spec({ model: 'kn_cnn', epochs: 2, seed }))).runs.map((r) => r.id);
  ids.forEach((id, i) => {
    const seed = i + 1;
    const journal = `journal-${seed}`;
    store.markRunning(id, 'cpu:0');
    store.apply(id, { event: 'steps', epoch: 1, points: points(seed, 5, 10), journal, seq: 1 });
    // a replayed journal line the store already holds: skipped
    store.apply(id, { event: 'steps', epoch: 1, points: points(seed, 5, 10), journal, seq: 1 });
    if (seed === 3) {
      store.apply(id, { event: 'done', status: 'diverged', metrics: finalMetrics(), journal, seq: 2 });
      return;
    }
    // a worker that resumed from an earlier checkpoint sends epoch 1 again under a new seq: the rows are replaced, not doubled
    store.apply(id, { event: 'steps', epoch: 1, points: points(seed, 5, 10), journal, seq: 2 });
    store.apply(id, { event: 'steps', epoch: 2, points: points(seed, 15, 20), journal, seq: 3 });
    store.apply(id, { event: 'done', status: 'finished', metrics: finalMetrics(), journal, seq: 4 });
  });
  store.flush();
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('step-level metrics in the store', () => {
  it('stores step/train_loss and step/lr at the global step, each step once', () => {
    const m = store.getMetrics(ids[0] ?? 0);
    expect(m['step/train_loss']?.map((p) => p.step)).toEqual([5, 10, 15, 20]);
    expect(m['step/lr']?.map((p) => p.value)).toEqual([0.1 / 5, 0.1 / 10, 0.1 / 15, 0.1 / 20]);
    expect(m['step/train_loss']?.[2]?.value).toBeCloseTo(loss(1, 15), 12);
    expect(store.duplicateHistoryRows()).toEqual({ normStats: 0, checkpoints: 0 });
  });

  it('curves(step/train_loss): mean ± sample SD over the finished seeds at each step, with n', () => {
    const group = store.getRun(ids[0] ?? 0)?.groupKey ?? '';
    const [curve] = store.curves([group], 'step/train_loss');
    expect(curve?.points.map((p) => [p.epoch, p.n])).toEqual([[5, 2], [10, 2], [15, 2], [20, 2]]);
    for (const p of curve?.points ?? []) {
      const values = [loss(1, p.epoch), loss(2, p.epoch)];
      expect(p.mean).toBeCloseTo((values[0] + values[1]) / 2, 12);
      expect(p.sd).toBeCloseTo(sampleSd(values), 12);
    }
    // the diverged seed joins where it has points when asked for
    const withDiverged = store.curves([group], 'step/train_loss', ['finished', 'diverged'])[0];
    expect(withDiverged?.points.map((p) => p.n)).toEqual([3, 3, 2, 2]);
  });

  it('refuses a step point at step 0 or without an lr, naming the run and step', () => {
    const id = ids[0] ?? 0;
    expect(() => store.apply(id, { event: 'steps', epoch: 1, points: [{ step: 0, lr: 0.1 }] })).toThrow(new RegExp(`run ${id}: step point at step 0 is not an integer ≥ 1`));
    const noLr = JSON.parse('{"event":"steps","epoch":1,"points":[{"step":3,"train_loss":1}]}') as Parameters<ExperimentStore['apply']>[1];
    expect(() => store.apply(id, noLr)).toThrow(/step point 3 has no lr/);
  });
});
