import { describe, expect, it } from 'vitest';
import type { NormStatsRecord, RunRecord } from '../../src-main/store/types';
import { companionRun, layerTracks, nearConstantSeries, normFamily, pairByDepth, recordAt, sampledSteps, unitOf } from '../../src-renderer/lib/layer-depth';
import type { DistributionSummary, NearConstantShare } from '../../src-worker/kn/stats';
import { spec } from '../main/store/helpers';

const summary = (lo: number, hi: number, nearConstant?: NearConstantShare): DistributionSummary => ({
  mean: (lo + hi) / 2, std: 1, min: lo, max: hi, percentiles: [lo, lo, lo, hi, hi], histogram: { lo, hi, counts: [1, 1] },
  ...(nearConstant ? { nearConstant } : {}),
});

let nextId = 1;
function rec(layer: string, step: number, kind: NormStatsRecord['kind'] = 'kn', share?: number): NormStatsRecord {
  const flat = share === undefined ? undefined : { share, count: share * 100, total: 100, unit: 'windows' as const, eps: 1e-5, factor: 10 };
  return { id: nextId++, runId: 1, epoch: 1, step, layer, kind, mean: summary(0, 1), std: summary(1, 2, flat), time: 0 };
}

/** Statistics as the store returns them: by step, then by layer name (not by depth). */
function byStepAndName(records: NormStatsRecord[]): NormStatsRecord[] {
  return [...records].sort((a, b) => a.step - b.step || a.layer.localeCompare(b.layer) || a.id - b.id);
}

describe('layers by depth', () => {
  it('orders layers as the forward pass reported them, not by name', () => {
    // forward order: stem, layer0.1, block0.0, head — names sort differently
    const step0 = ['stem', 'layer0.1', 'block0.0', 'head'].map((l) => rec(l, 0));
    const step5 = ['stem', 'layer0.1', 'block0.0', 'head'].map((l) => rec(l, 5));
    const tracks = layerTracks(byStepAndName([...step5, ...step0]));
    expect(tracks.map((t) => t.layer)).toEqual(['stem', 'layer0.1', 'block0.0', 'head']);
    expect(tracks.map((t) => t.depth)).toEqual([0, 1 / 3, 2 / 3, 1]);
    expect(tracks[1].records.map((r) => r.step)).toEqual([0, 5]);
    expect(layerTracks([rec('only', 3)])[0].depth).toBe(0);
  });

  it('pairs a 4-layer KN model with a 7-layer BN model by normalized depth, whatever the names', () => {
    const kn = layerTracks(['block0.0', 'block1.0', 'block2.0', 'block3.0'].map((l) => rec(l, 0)));
    const bn = layerTracks(['bn1', 'layer0.1', 'layer0.2', 'layer1.1', 'layer1.2', 'layer2.1', 'layer3.2'].map((l) => rec(l, 0, 'bn')));
    // depths 0, 1/3, 2/3, 1 → BN indices round(d · 6) = 0, 2, 4, 6
    expect(pairByDepth(kn, bn).map((t) => t?.layer)).toEqual(['bn1', 'layer0.2', 'layer1.2', 'layer3.2']);
    // and back: BN depths k/6 → KN indices round(k/6 · 3) = 0, 1(0.5), 1, 2(1.5), 2, 3(2.5), 3
    expect(pairByDepth(bn, kn).map((t) => t?.layer)).toEqual(['block0.0', 'block1.0', 'block1.0', 'block2.0', 'block2.0', 'block3.0', 'block3.0']);
    expect(pairByDepth(kn, [])).toEqual([null, null, null, null]);
  });

  it('finds a layer’s sample at or before a step, the latest by default', () => {
    const [t] = layerTracks([rec('a', 10), rec('a', 20), rec('a', 30)]);
    expect(recordAt(t, null)?.step).toBe(30);
    expect(recordAt(t, 25)?.step).toBe(20);
    expect(recordAt(t, 20)?.step).toBe(20);
    expect(recordAt(t, 5)).toBeNull();
    expect(sampledSteps([t, ...layerTracks([rec('b', 15)])])).toEqual([10, 15, 20, 30]);
  });

  it('plots the near-constant share where recorded, and names the unit for old rows by kind', () => {
    const [t] = layerTracks([rec('a', 10), rec('a', 20, 'kn', 0.25), rec('a', 30, 'kn', 0.5)]);
    expect(nearConstantSeries(t).map((p) => [p.step, p.share.share])).toEqual([[20, 0.25], [30, 0.5]]);
    expect([unitOf('kn'), unitOf('bn'), unitOf('gn'), unitOf('ln')]).toEqual(['windows', 'channels', 'groups', 'samples']);
    expect(unitOf('ln', { share: 0, count: 0, total: 4, unit: 'positions', eps: 1e-6, factor: 10 })).toBe('positions');
  });
});

function run(id: number, model: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id, sweepId: 1, groupKey: 'g', model, dataset: 'synthetic', seed: 1, lr: 0.1, batchSize: 32, epochs: 1,
    status: 'finished', priority: 0, device: null, attempts: 1, errorReason: null, stderrTail: null, spec: spec({ model }),
    finalTestAcc: null, bestTestAcc: null, finalTestLoss: null, epochsCompleted: null, createdAt: 0, startedAt: null,
    finishedAt: null, owner: null, checkpointDir: null, journalAck: { journal: null, seq: 0 }, autoRetries: 0, jobId: null, ...extra,
  };
}

describe('the run shown next to another', () => {
  it('tells the normalization from the model name', () => {
    expect(['knresnet18', 'fc_knresnet50', 'resnet18_bn', 'preact_resnet18_gn', 'resnet34_ln', 'convnext_tiny'].map(normFamily))
      .toEqual(['kn', 'kn', 'bn', 'gn', 'ln', 'convnext_tiny']);
  });

  it('prefers another normalization of the same sweep and seed, then the same sweep, then any', () => {
    const kn = run(10, 'knresnet18', { sweepId: 2, seed: 3 });
    const otherSweep = run(1, 'resnet18_bn', { sweepId: 1, seed: 3 });
    const sameSweep = run(2, 'resnet18_bn', { sweepId: 2, seed: 1 });
    const sameSeed = run(3, 'resnet18_gn', { sweepId: 2, seed: 3 });
    const knTwin = run(4, 'knresnet18', { sweepId: 2, seed: 3, batchSize: 32 });
    expect(companionRun([otherSweep, sameSweep, sameSeed, knTwin, kn], kn)?.id).toBe(3);
    expect(companionRun([otherSweep, sameSweep, knTwin, kn], kn)?.id).toBe(2);
    expect(companionRun([otherSweep, knTwin, kn], kn)?.id).toBe(1);
    // only KN runs: another KN run rather than nothing
    expect(companionRun([knTwin, kn], kn)?.id).toBe(4);
    expect(companionRun([kn], kn)).toBeNull();
  });

  it('within a tier takes the same batch size first', () => {
    const kn = run(10, 'knresnet18', { batchSize: 2 });
    const big = run(1, 'resnet18_bn', { batchSize: 32 });
    const small = run(2, 'resnet18_bn', { batchSize: 2 });
    expect(companionRun([big, small, kn], kn)?.id).toBe(2);
  });
});
