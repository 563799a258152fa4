import { describe, expect, it } from 'vitest';
import { bandsOverSeeds, emaSmooth, stepExtent } from '../../src-renderer/lib/step-curves';

describe('emaSmooth', () => {
  it('is the debiased EMA with alpha the weight of the past (hand-computed)', () => {
    // s = 0.5·s + 0.5·x from 0, divided by 1 − 0.5^k: 1, 1.25/0.75, 2.125/0.875
    const out = emaSmooth([1, 2, 3], 0.5);
    expect(out[0]).toBeCloseTo(1, 12);
    expect(out[1]).toBeCloseTo(5 / 3, 12);
    expect(out[2]).toBeCloseTo(17 / 7, 12);
  });

  it('keeps a constant series constant from its first point (the debiasing), and alpha 0 returns the values', () => {
    expect(emaSmooth([5, 5, 5], 0.9).map((v) => v?.toFixed(12))).toEqual(['5.000000000000', '5.000000000000', '5.000000000000']);
    expect(emaSmooth([3, -1, 4], 0)).toEqual([3, -1, 4]);
  });

  it('leaves missing values missing without moving the average', () => {
    const out = emaSmooth([1, null, Number.NaN, 3], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    // as if the gap were not there: (0.25·1 + 1.5) / 0.75
    expect(out[3]).toBeCloseTo(7 / 3, 12);
  });

  it('refuses an alpha outside [0, 1), naming it', () => {
    expect(() => emaSmooth([1], 1)).toThrow(/alpha must be in \[0, 1\), got 1/);
    expect(() => emaSmooth([1], -0.1)).toThrow(/got -0.1/);
  });
});

describe('bandsOverSeeds', () => {
  it('gives mean, sample SD and n per step, sorted by step, over the seeds that reached it', () => {
    const bands = bandsOverSeeds([
      [{ step: 20, value: 3 }, { step: 10, value: 1 }],
      [{ step: 10, value: 3 }, { step: 20, value: 5 }],
      [{ step: 10, value: 2 }],
    ]);
    expect(bands.map((b) => [b.step, b.n, b.mean])).toEqual([[10, 3, 2], [20, 2, 4]]);
    expect(bands[0]?.sd).toBeCloseTo(1, 12);
    expect(bands[1]?.sd).toBeCloseTo(Math.SQRT2, 12);
  });

  it('has no SD from one seed and no mean where every seed is missing', () => {
    expect(bandsOverSeeds([[{ step: 4, value: 2 }]])).toEqual([{ step: 4, mean: 2, sd: null, n: 1 }]);
    expect(bandsOverSeeds([[{ step: 4, value: Number.NaN }], [{ step: 4, value: null }]])).toEqual([{ step: 4, mean: null, sd: null, n: 0 }]);
  });

  it('keeps digits when seeds are close (two-pass SD)', () => {
    const [band] = bandsOverSeeds([[{ step: 1, value: 1e8 + 1 }], [{ step: 1, value: 1e8 + 2 }], [{ step: 1, value: 1e8 + 3 }]]);
    expect(band?.sd).toBeCloseTo(1, 9);
  });
});

describe('stepExtent', () => {
  it('spans the logged steps of every series, not from 0', () => {
    expect(stepExtent([[{ step: 120 }, { step: 130 }], [{ step: 110 }]])).toEqual({ min: 110, max: 130 });
    expect(stepExtent([[], []])).toBeNull();
  });
});
