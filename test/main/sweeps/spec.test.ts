import { describe, expect, it } from 'vitest';
import { configGroupKey } from '../../../src-main/store';
import { expandSweep, parseSweepSpec, SweepSpecError } from '../../../src-main/sweeps';

const base = { model: 'knresnet18', dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.1 };
const { lr: _lr, ...baseNoLr } = base;

function problems(input: unknown): string[] {
  try {
    expandSweep(parseSweepSpec(input));
  } catch (error) {
    expect(error).toBeInstanceOf(SweepSpecError);
    return (error as SweepSpecError).problems;
  }
  throw new Error('expected the spec to be rejected');
}

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
    expect(runs[0]!.momentum).toBe(0.9);
    // the same config with another seed is the same group
    expect(configGroupKey(runs[0]!)).toBe(configGroupKey(runs[6]!));
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
