import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../../src-main/store';
import { epochMetrics, finalMetrics, sampleSd, spec, tempDir } from './helpers';

const tmp = tempDir('store-agg');
let store: ExperimentStore;
let sweepId: number;

// knresnet18, four seeds: final and best test accuracy, final loss
const kn = [
  { seed: 1, acc: 0.61, best: 0.63, loss: 1.3 },
  { seed: 2, acc: 0.64, best: 0.65, loss: 1.2 },
  { seed: 3, acc: 0.6, best: 0.66, loss: 1.35 },
  { seed: 4, acc: 0.66, best: 0.67, loss: 1.1 },
];
// per-run test_acc curve over 3 epochs; seed 4 has a NaN at epoch 2 (kept out of that point)
const curves: Record<number, number[]> = { 1: [0.2, 0.4, 0.61], 2: [0.3, 0.5, 0.64], 3: [0.25, 0.45, 0.6], 4: [0.1, NaN, 0.66] };

beforeAll(() => {
  store = ExperimentStore.open(join(tmp.dir, 'agg.db'));
  sweepId = store.upsertSweep({ name: 'agg', spec: {} }).sweep.id;
  const ids = store.addRuns(sweepId, [
    ...kn.map((r) => spec({ model: 'knresnet18', seed: r.seed })),
    spec({ model: 'resnet18', seed: 1 }),
    spec({ model: 'resnet18', seed: 2 }),
    spec({ model: 'resnet18', seed: 3 }),
    spec({ model: 'resnet18', seed: 4 }),
  ]).runs.map((r) => r.id);
  kn.forEach((r, i) => {
    const id = ids[i];
    store.markRunning(id, 'cpu:0');
    curves[r.seed].forEach((acc, e) => store.apply(id, { event: 'epoch', epoch: e + 1, metrics: epochMetrics({ test_acc: acc }) }));
    store.apply(id, { event: 'done', status: 'finished', metrics: finalMetrics({ test_acc: r.acc, best_test_acc: r.best, test_loss: r.loss }) });
  });
  // resnet18: one finished, one diverged, one running, one queued → n = 1, no SD
  store.markRunning(ids[4], 'cpu:0');
  store.apply(ids[4], { event: 'done', status: 'finished', metrics: finalMetrics({ test_acc: 0.5, best_test_acc: 0.52, test_loss: 1.5 }) });
  store.markRunning(ids[5], 'cpu:0');
  store.apply(ids[5], { event: 'done', status: 'diverged', metrics: finalMetrics({ test_acc: 0.01, test_loss: NaN }) });
  store.markRunning(ids[6], 'cpu:0');
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('aggregates over seeds', () => {
  it('gives n, mean and sample SD per group, from finished runs only', () => {
    const [knGroup, resnetGroup] = store.aggregates({ sweepId });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(knGroup.model).toBe('knresnet18');
    expect(knGroup.n).toBe(4);
    expect(knGroup.seeds).toEqual([1, 2, 3, 4]);
    expect(knGroup.finalTestAcc.mean).toBeCloseTo(mean(kn.map((r) => r.acc)), 12);
    expect(knGroup.finalTestAcc.sd).toBeCloseTo(sampleSd(kn.map((r) => r.acc)), 12);
    // hand-computed: accs 0.61 0.64 0.60 0.66 → mean 0.6275, SD sqrt(0.002275/3) = 0.027537852...
    expect(knGroup.finalTestAcc.sd).toBeCloseTo(0.0275378527, 9);
    expect(knGroup.bestTestAcc.mean).toBeCloseTo(0.6525, 12);
    expect(knGroup.bestTestAcc.sd).toBeCloseTo(sampleSd(kn.map((r) => r.best)), 12);
    expect(knGroup.finalTestLoss.sd).toBeCloseTo(sampleSd(kn.map((r) => r.loss)), 12);
    expect(knGroup.config).toMatchObject({ model: 'knresnet18', lr: 0.1 });
    expect(knGroup.config).not.toHaveProperty('seed');

    expect(resnetGroup.model).toBe('resnet18');
    expect(resnetGroup.n).toBe(1);
    expect(resnetGroup.runCounts).toEqual({ finished: 1, diverged: 1, running: 1, queued: 1 });
    expect(resnetGroup.finalTestAcc).toEqual({ n: 1, mean: 0.5, sd: null });
  });

  it('answers for one group, and for a filter that matches nothing', () => {
    const knKey = store.listRuns({ model: 'knresnet18' })[0].groupKey;
    const only = store.aggregates({ groupKey: knKey });
    expect(only.map((g) => [g.groupKey, g.n])).toEqual([[knKey, 4]]);
    expect(store.aggregates({ model: 'no-such-model' })).toEqual([]);
  });

  it('gives per-epoch mean ± SD curves, leaving NaN values out of a point', () => {
    const knKey = store.listRuns({ model: 'knresnet18' })[0].groupKey;
    const [curve, missing] = store.curves([knKey, 'no-such-group'], 'test_acc');
    expect(curve.groupKey).toBe(knKey);
    expect(curve.points.map((p) => [p.epoch, p.n])).toEqual([[1, 4], [2, 3], [3, 4]]);
    for (const point of curve.points) {
      const values = Object.values(curves).map((c) => c[point.epoch - 1]).filter((v) => !Number.isNaN(v));
      expect(point.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 12);
      expect(point.sd).toBeCloseTo(sampleSd(values), 12);
    }
    expect(missing).toEqual({ groupKey: 'no-such-group', metric: 'test_acc', points: [] });
    expect(store.curves([knKey], 'never_logged')[0].points).toEqual([]);
  });
});
