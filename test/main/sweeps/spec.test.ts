import { describe, expect, it } from 'vitest';
import { problems } from './helpers';
import { configGroupKey } from '../../../src-main/store';
import { expandSweep, parseSweepSpec, refuseDpIncompatibleModels } from '../../../src-main/sweeps';

const base = { model: 'knresnet18', dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.1 };
const { lr: _lr, ...baseNoLr } = base;

describe('sweep spec validation', () => {
  it('names the grid element that is wrong', () => {
    const found = problems({ name: 'x', base: baseNoLr, grid: { lr: [0.1, 0.05, -1] } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^grid\.lr\[2\]: .*>0/);
  });

  it('names nested paths, unknown fields and reserved fields', () => {
    const found = problems({
      name: 'x',
      base: { ...baseNoLr, lrr: 0.1, seed: 3 },
      grid: { lr: [0.1], schedule: [{ kind: 'cosine' }, { kind: 'cosine', decay: 2 }], colour: ['red'] },
      bogus: true,
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^base\.lrr: unknown run field "lrr"/),
        expect.stringMatching(/^base\.seed: "seed" is set per run from "seeds" or "repeats"/),
        expect.stringMatching(/^grid\.schedule\[1\]\.decay: /),
        expect.stringMatching(/^grid\.colour: unknown run field "colour"/),
        'bogus: unknown field',
      ]),
    );
  });

  it('rejects conflicting seed settings, duplicates and empty axes', () => {
    expect(problems({ name: 'x', base, seeds: [1, 2], repeats: 3 })).toEqual(['repeats: give "seeds" or "repeats", not both']);
    expect(problems({ name: 'x', base, seeds: [1, 2, 1] })).toEqual(['seeds[2]: duplicate of seeds[0]']);
    expect(problems({ name: 'x', base: baseNoLr, grid: { lr: [0.1, 0.2, 0.1] } })).toEqual([
      'grid.lr[2]: duplicate of grid.lr[0]',
    ]);
    expect(problems({ name: 'x', base, grid: { batchSize: [] } })[0]).toMatch(/^grid\.batchSize: /);
    expect(problems({ name: 'x', base, grid: { batchSize: [32] } })).toEqual(['base.batchSize: also a grid axis; set it in one place only']);
    expect(problems({ name: '', base })[0]).toMatch(/^name: /);
    expect(problems({ name: 'x', base, seeds: [1.5] })[0]).toMatch(/^seeds\[0\]: /);
  });

  it('rejects lr in an lr-search sweep and too few seeds for its repeats', () => {
    const found = problems({ name: 'x', base, grid: { lr: [0.1] }, lrSearch: { repeats: 3 }, seeds: [1, 2] });
    expect(found).toEqual(
      expect.arrayContaining([
        'grid.lr: the learning-rate search (lrSearch) picks lr; remove it here',
        'base.lr: the learning-rate search (lrSearch) picks lr; remove it here',
        'seeds: lists 2 seeds but lrSearch.repeats is 3',
      ]),
    );
    expect(problems({ name: 'x', base: { model: 'm', dataset: 'synthetic', epochs: 1, batchSize: 1 }, lrSearch: { factor: 1.5 } })[0]).toMatch(
      /^lrSearch\.factor: /,
    );
  });

  it('says which required field nothing sets, and which preset is unknown', () => {
    expect(problems({ name: 'x', base: { model: 'm', dataset: 'synthetic', lr: 0.1 } })).toEqual([
      'base.epochs: required (set it in base, as a grid axis, or through a preset)',
      'base.batchSize: required (set it in base, as a grid axis, or through a preset)',
    ]);
    expect(problems({ name: 'x', base: { ...base, preset: 'cifar1000' } })[0]).toMatch(/^base\.preset: unknown preset "cifar1000"/);
  });
});

describe('sweep expansion', () => {
  it('crosses grid axes with seeds, seed-major, each run validated with defaults applied', () => {
    const spec = parseSweepSpec({
      name: 'kn-vs-bn',
      base: { dataset: 'synthetic', epochs: 2, batchSize: 16 },
      grid: { model: ['knresnet18', 'resnet18'], lr: [0.1, 0.05, 0.025] },
      seeds: [1, 2, 3],
    });
    const { runs, groups } = expandSweep(spec);
    expect(runs).toHaveLength(2 * 3 * 3);
    expect(groups).toBe(6);
    expect(runs.slice(0, 6).map((r) => [r.model, r.lr, r.seed])).toEqual([
      ['knresnet18', 0.1, 1], ['knresnet18', 0.05, 1], ['knresnet18', 0.025, 1],
      ['resnet18', 0.1, 1], ['resnet18', 0.05, 1], ['resnet18', 0.025, 1],
    ]);
    expect(runs.map((r) => r.seed).slice(-1)).toEqual([3]);
    expect(runs[0].momentum).toBe(0.9);
    // the same config with another seed is the same group
    expect(configGroupKey(runs[0])).toBe(configGroupKey(runs[6]));
    expect(spec.priority).toBe(0);
  });

  it('turns repeats into seeds 1..n, and resolves a preset with explicit fields winning', () => {
    const { runs } = expandSweep(parseSweepSpec({ name: 'p', base: { model: 'knresnet18', preset: 'cifar100-paper', epochs: 3 }, repeats: 2 }));
    expect(runs.map((r) => [r.seed, r.dataset, r.epochs, r.batchSize, r.preset])).toEqual([
      [1, 'cifar100', 3, 32, 'cifar100-paper'],
      [2, 'cifar100', 3, 32, 'cifar100-paper'],
    ]);
  });

  it('starts an lr search with one run per family at the start lr and the first seed', () => {
    const { runs } = expandSweep(
      parseSweepSpec({ name: 's', base: { dataset: 'synthetic', epochs: 1, batchSize: 8 }, grid: { model: ['a', 'b'] }, lrSearch: {} }),
    );
    expect(runs.map((r) => [r.model, r.lr, r.seed])).toEqual([['a', 0.2, 1], ['b', 0.2, 1]]);
  });
});

describe('DP-SGD sweeps', () => {
  const dpBase = { ...baseNoLr, model: 'kn_cnn', activation: 'mish', dp: { targetEpsilon: 8, logicalBatch: 256 } };

  it('grids over DP options with dotted axes, keeping the rest of base.dp', () => {
    const spec = parseSweepSpec({ name: 'dp', base: dpBase, grid: { 'dp.maxGradNorm': [1, 2], lr: [2, 3, 4] }, seeds: [1] });
    const { runs, groups } = expandSweep(spec);
    expect(runs).toHaveLength(6);
    expect(groups).toBe(6);
    expect(runs.map((r) => [r.dp!.maxGradNorm, r.lr])).toEqual([[1, 2], [1, 3], [1, 4], [2, 2], [2, 3], [2, 4]]);
    // defaults applied inside dp, and the base's options kept in every run
    for (const r of runs) expect(r.dp).toMatchObject({ targetEpsilon: 8, logicalBatch: 256, delta: 8e-7 });
    // runs differing only in the clipping bound are different experiments
    expect(configGroupKey(runs[0])).not.toBe(configGroupKey(runs[3]));
  });

  it('refines the dp-paper preset instead of replacing its dp options', () => {
    const spec = parseSweepSpec({
      name: 'paper', base: { preset: 'dp-paper', dataset: 'synthetic', epochs: 2, dp: { logicalBatch: 128 } },
      grid: { 'dp.maxGradNorm': [1, 2] }, repeats: 1,
    });
    const { runs } = expandSweep(spec);
    expect(runs.map((r) => r.dp)).toEqual([
      { targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 128 },
      { targetEpsilon: 8, delta: 8e-7, maxGradNorm: 2, logicalBatch: 128 },
    ]);
    expect(runs[0]).toMatchObject({ model: 'knresnet18', activation: 'mish', momentum: 0, weightDecay: 0, lr: 2 });
  });

  it('names the dotted grid element that is wrong, and what a DP axis is missing', () => {
    expect(problems({ name: 'x', base: dpBase, grid: { 'dp.maxGradNorm': [1, -2], lr: [2] } })).toEqual([
      'grid["dp.maxGradNorm"][1]: Too small: expected number to be >0',
    ]);
    expect(problems({ name: 'x', base: dpBase, grid: { 'dp.clip': [1], lr: [2] } })).toEqual([
      'grid["dp.clip"]: unknown field "clip" of dp (known: targetEpsilon, noiseMultiplier, delta, maxGradNorm, logicalBatch)',
    ]);
    expect(problems({ name: 'x', base: dpBase, grid: { 'lr.value': [1] } })[0]).toMatch(/^grid\["lr\.value"\]: "lr" is not a run field with options to vary \(dotted axes reach into: dp\)/);
    expect(problems({ name: 'x', base: { ...dpBase, lr: 2, dp: { ...dpBase.dp, maxGradNorm: 1 } }, grid: { 'dp.maxGradNorm': [1, 2] } })).toEqual([
      'base.dp.maxGradNorm: also a grid axis; set it in one place only',
    ]);
    expect(problems({ name: 'x', base: { ...base, model: 'kn_cnn' }, grid: { 'dp.maxGradNorm': [1, 2] } })).toEqual([
      'grid["dp.maxGradNorm"]: varies dp.maxGradNorm, but nothing sets dp: give base.dp (the other options) or a preset that has it (dp-paper)',
    ]);
    expect(problems({ name: 'x', base: dpBase, grid: { 'dp.maxGradNorm': [1, 1], lr: [2] } })).toEqual([
      'grid["dp.maxGradNorm"][1]: duplicate of grid["dp.maxGradNorm"][0]',
    ]);
  });

  it('refuses a BatchNorm model with DP at submission, naming the grid element, with the worker\'s message', async () => {
    const { model: _m, ...noModel } = dpBase;
    const spec = parseSweepSpec({ name: 'x', base: { ...noModel, lr: 2 }, grid: { model: ['kn_cnn', 'resnet18_bn', 'resnet18_gn'] } });
    const { runs } = expandSweep(spec);
    await expect(refuseDpIncompatibleModels(spec, runs)).rejects.toMatchObject({
      problems: ['grid.model[1]: DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model'],
    });
    // the same models without DP are fine
    const { model: _p, ...plainBase } = base;
    const plain = parseSweepSpec({ name: 'x', base: plainBase, grid: { model: ['kn_cnn', 'resnet18_bn'] } });
    await expect(refuseDpIncompatibleModels(plain, expandSweep(plain).runs)).resolves.toBeUndefined();
  });
});
