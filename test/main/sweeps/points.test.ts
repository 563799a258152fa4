import { describe, expect, it } from 'vitest';
import { problems } from './helpers';
import { configGroupKey, runKey } from '../../../src-main/store';
import { expandSweep, fieldPathOf, parseSweepSpec, sweepPoints } from '../../../src-main/sweeps';

const base = { dataset: 'synthetic', epochs: 1, syntheticTrainSize: 50 };
const tuned = [
  { model: 'kn_cnn', lr: 0.1 },
  { model: 'cnn', lr: 0.05 },
];

describe('explicit points in a sweep spec', () => {
  it('crosses each point, in order, with the grid product and the seeds, seed-major', () => {
    const spec = parseSweepSpec({ name: 'p', base, points: tuned, grid: { batchSize: [8, 16] }, seeds: [1, 2] });
    const { runs, groups } = expandSweep(spec);
    expect(runs.map((r) => [r.seed, r.model, r.lr, r.batchSize])).toEqual([
      [1, 'kn_cnn', 0.1, 8], [1, 'kn_cnn', 0.1, 16], [1, 'cnn', 0.05, 8], [1, 'cnn', 0.05, 16],
      [2, 'kn_cnn', 0.1, 8], [2, 'kn_cnn', 0.1, 16], [2, 'cnn', 0.05, 8], [2, 'cnn', 0.05, 16],
    ]);
    expect(groups).toBe(4);
    expect(sweepPoints(spec).map((p) => p.point)).toEqual([0, 0, 1, 1]);
  });

  it('queues exactly the runs of the grid sweeps it replaces, with the same run keys', () => {
    const points = parseSweepSpec({ name: 'one', base: { ...base, batchSize: 8 }, points: tuned, repeats: 3 });
    const byLr = tuned.map(({ model, lr }) => parseSweepSpec({ name: `lr${lr}`, base: { ...base, batchSize: 8, lr }, grid: { model: [model] }, repeats: 3 }));
    const keys = expandSweep(points).runs.map(runKey).sort();
    expect(keys).toHaveLength(6);
    expect(keys).toEqual(byLr.flatMap((s) => expandSweep(s).runs.map(runKey)).sort());
  });

  it('varies an option of an object field with a dotted name, keeping the rest of base.dp', () => {
    const spec = parseSweepSpec({
      name: 'dp', base: { ...base, model: 'kn_cnn', batchSize: 8, activation: 'mish', dp: { targetEpsilon: 8, logicalBatch: 16 } },
      points: [{ 'dp.maxGradNorm': 1, lr: 2 }, { 'dp.maxGradNorm': 2, lr: 3 }], repeats: 1,
    });
    const { runs } = expandSweep(spec);
    expect(runs.map((r) => [r.dp?.maxGradNorm, r.lr])).toEqual([[1, 2], [2, 3]]);
    for (const r of runs) expect(r.dp).toMatchObject({ targetEpsilon: 8, logicalBatch: 16 });
    expect(configGroupKey(runs[0])).not.toBe(configGroupKey(runs[1]));
  });

  it('names the point and field of a bad value, and a bad field name once', () => {
    const found = problems({
      name: 'x', base: { ...base, batchSize: 8 },
      points: [{ model: 'cnn', lr: 0.1, lrr: 1 }, { model: 'cnn', lr: 0.2, lrr: 1 }, { model: 'cnn', lr: 0.3, lrr: 1 }, { model: 'cnn', lr: -1, lrr: 1 }],
    });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^points\[0\]\.lrr: unknown run field "lrr" \(known: /);
    expect(found[1]).toMatch(/^points\[3\]\.lr: .*>0/);
    expect(problems({ name: 'x', base, points: [{ model: 'cnn', seed: 3 }] })).toEqual(['points[0].seed: "seed" is set per run from "seeds" or "repeats"']);
    const nested = problems({ name: 'x', base: { ...base, model: 'kn_cnn', batchSize: 8, lr: 0.1, dp: { noiseMultiplier: 1, logicalBatch: 16 } }, points: [{ 'dp.maxGradNorm': 1 }, { 'dp.maxGradNorm': -1 }] });
    expect(nested).toHaveLength(1);
    expect(nested[0]).toMatch(/^points\[1\]\["dp\.maxGradNorm"\]: /);
    expect(problems({ name: 'x', base, points: [{ 'dp.clip': 1 }] })[0]).toMatch(/^points\[0\]\["dp\.clip"\]: unknown field "clip" of dp \(known: /);
  });

  it('refuses a field in points and in grid or base, naming the field', () => {
    expect(problems({ name: 'x', base: { ...base, batchSize: 8 }, points: tuned, grid: { lr: [0.1, 0.2] } })).toEqual([
      'grid.lr: also set by every point of "points"; give lr in points or in grid, not both',
    ]);
    expect(problems({ name: 'x', base: { ...base, batchSize: 8, model: 'cnn' }, points: tuned })).toEqual(['base.model: also set by points; set it in one place only']);
    const dp = { ...base, model: 'kn_cnn', batchSize: 8, lr: 0.1 };
    expect(problems({ name: 'x', base: { ...dp, dp: { noiseMultiplier: 1, logicalBatch: 16, maxGradNorm: 1 } }, points: [{ 'dp.maxGradNorm': 2 }] })).toEqual([
      'base.dp.maxGradNorm: also set by points; set it in one place only',
    ]);
    expect(problems({ name: 'x', base: dp, points: [{ 'dp.maxGradNorm': 2 }], grid: { dp: [{ noiseMultiplier: 1, logicalBatch: 16 }] } })).toEqual([
      'points[0]["dp.maxGradNorm"]: grid.dp is an axis too; vary dp whole or by its fields, not both',
    ]);
    expect(problems({ name: 'x', base: dp, points: [{ dp: { noiseMultiplier: 1, logicalBatch: 16 } }], grid: { 'dp.maxGradNorm': [1, 2] } })).toEqual([
      'grid["dp.maxGradNorm"]: points set dp whole too; vary dp whole or by its fields, not both',
    ]);
  });

  it('refuses points that set different fields, duplicate points, an empty list and an empty point', () => {
    expect(problems({ name: 'x', base: { ...base, batchSize: 8 }, points: [...tuned, { model: 'cnn' }, { model: 'cnn', lr: 1, epochs: 2 }] })).toEqual([
      'points[2]: sets model but points[0] sets model, lr (lacks lr); every point sets the same fields',
      'points[3]: sets model, lr, epochs but points[0] sets model, lr (adds epochs); every point sets the same fields',
    ]);
    expect(problems({ name: 'x', base: { ...base, batchSize: 8 }, points: [...tuned, { lr: 0.1, model: 'kn_cnn' }] })).toEqual(['points[2]: duplicate of points[0]']);
    expect(problems({ name: 'x', base, points: [] })[0]).toMatch(/^points: /);
    expect(problems({ name: 'x', base, points: [{}] })).toEqual(['points[0]: sets no field; a point gives a value to each of the fields it varies']);
    expect(problems({ name: 'x', base, points: [3] })[0]).toMatch(/^points\[0\]: /);
  });

  it('refuses lr in points of an lr-search sweep', () => {
    expect(problems({ name: 'x', base: { ...base, batchSize: 8 }, points: tuned, lrSearch: {} })).toEqual([
      'points[0].lr: the learning-rate search (lrSearch) picks lr; remove lr from every point',
    ]);
    // a point without lr is a search family of its own
    const search = parseSweepSpec({ name: 'x', base: { ...base, batchSize: 8 }, points: [{ model: 'cnn' }, { model: 'kn_cnn' }], lrSearch: { start: 0.4 } });
    expect(expandSweep(search).runs.map((r) => [r.model, r.lr, r.seed])).toEqual([['cnn', 0.4, 1], ['kn_cnn', 0.4, 1]]);
  });

  it('names the point where a run problem found at expansion is set', () => {
    expect(problems({ name: 'x', base: { ...base, lr: 0.1 }, points: [{ model: 'cnn', batchSize: 8 }, { model: 'kn_cnn', batchSize: 64 }] })).toEqual([
      'points[1].batchSize (grid point model="kn_cnn", batchSize=64): batch size 64 is larger than the training set (50 images of synthetic); lower batchSize or raise syntheticTrainSize',
    ]);
    expect(problems({ name: 'x', base: { ...base, batchSize: 8 }, points: [{ model: 'cnn', preset: 'cifar9-paper' }] })[0]).toMatch(/^points\[0\]\.preset: /);
    expect(problems({ name: 'x', base: { ...base, batchSize: 8, lr: 0.1 }, grid: { model: ['cnn'], preset: ['cifar100-paper', 'cifar9-paper'] } })[0]).toMatch(
      /^grid\.preset\[1\]: /,
    );
  });

  it('points a run problem found later at the grid entry, the point or base that sets the value', () => {
    const spec = parseSweepSpec({ name: 'x', base: { ...base, batchSize: 8 }, points: tuned, grid: { width: [0.5, 1] } });
    expect(fieldPathOf(spec, 'model', 'cnn')).toBe('points[1].model');
    expect(fieldPathOf(spec, 'width', 1)).toBe('grid.width[1]');
    expect(fieldPathOf(spec, 'dataset', 'synthetic')).toBe('base.dataset');
    expect(fieldPathOf(spec, 'dp.logicalBatch', 64)).toBe('base.dp.logicalBatch');
  });
});

describe('sweeps without points', () => {
  /**
   * Run keys these specs expanded to before points existed (commit 0c93af5): a stored run is found again by its
   * key, so any change here would queue every stored sweep's runs a second time.
   */
  it('expand to exactly the run keys they had before, in the same order', () => {
    const readme = parseSweepSpec({
      name: 'kn-vs-bn', base: { dataset: 'cifar100', dataDir: '/data', preset: 'cifar100-paper' },
      grid: { model: ['knresnet18', 'resnet18_bn', 'resnet18_gn'], lr: [0.1, 0.05] }, seeds: [1, 2, 3],
    });
    const groups = ['675d7d12cdaded8f', 'da943468d8179e81', '19c7014182bca2b6', '50fa96e27ebafd3a', '7afd1146a59787a3', '1d695ecbe4bfca19'];
    expect(expandSweep(readme).runs.map(runKey)).toEqual([1, 2, 3].flatMap((seed) => groups.map((g) => `${g}:${seed}`)));
    const dp = parseSweepSpec({
      name: 'dp', base: { model: 'kn_cnn', dataset: 'synthetic', epochs: 2, batchSize: 16, activation: 'mish', dp: { targetEpsilon: 8, logicalBatch: 256 } },
      grid: { 'dp.maxGradNorm': [1, 2], lr: [2, 3] }, repeats: 2,
    });
    const dpGroups = ['87b873dcb5c3f2ef', '67ebcbf78a09a542', '773800fb0c27d097', '75a0a4d74ee6e1c9'];
    expect(expandSweep(dp).runs.map(runKey)).toEqual([1, 2].flatMap((seed) => dpGroups.map((g) => `${g}:${seed}`)));
    expect(sweepPoints(dp).every((p) => p.point === undefined)).toBe(true);
  });
});
