import { describe, expect, it } from 'vitest';
import { binCentres, histogramGrid } from '../../src-renderer/lib/kernel-stats';
import type { DistributionSummary } from '../../src-worker/kn/stats';

function summary(lo: number, hi: number, counts: number[]): DistributionSummary {
  return { mean: 0, std: 1, min: lo, max: hi, percentiles: [0, 0, 0, 0, 0], histogram: { lo, hi, counts } };
}

describe('histogramGrid', () => {
  it('puts histograms with different ranges on one axis, each column summing to 1', () => {
    const grid = histogramGrid(
      [
        { step: 20, epoch: 2, summary: summary(0, 2, [0, 10, 30, 0]) },
        { step: 10, epoch: 1, summary: summary(-1, 1, [5, 5]) },
      ],
      6,
    );
    expect(grid.steps).toEqual([10, 20]);
    expect(grid.epochs).toEqual([1, 2]);
    expect([grid.lo, grid.hi]).toEqual([-1, 2]);
    expect(binCentres(grid).map((c) => Number(c.toFixed(2)))).toEqual([-0.75, -0.25, 0.25, 0.75, 1.25, 1.75]);
    for (const col of [0, 1]) {
      const sum = grid.cells.filter((c) => c[0] === col).reduce((a, c) => a + c[2], 0);
      expect(sum).toBeCloseTo(1, 10);
    }
    // step 10: [-1, 0) and [0, 1) hold half each → two common bins apiece, a quarter each
    expect(grid.cells.filter((c) => c[0] === 0).map((c) => [c[1], c[2]])).toEqual([[0, 0.25], [1, 0.25], [2, 0.25], [3, 0.25]]);
    // step 20: 10 in [0.5, 1), 30 in [1, 1.5)
    expect(grid.cells.filter((c) => c[0] === 1).map((c) => [c[1], c[2]])).toEqual([[3, 0.25], [4, 0.75]]);
    expect(grid.maxShare).toBe(0.75);
  });

  it('leaves no empty rows inside a smooth distribution when the bin counts do not divide', () => {
    const counts = Array.from({ length: 32 }, () => 10);
    const grid = histogramGrid([{ step: 1, epoch: 1, summary: summary(0, 1, counts) }], 40);
    expect(new Set(grid.cells.map((c) => c[1])).size).toBe(40);
  });

  it('is empty without records', () => {
    expect(histogramGrid([]).cells).toEqual([]);
  });
});
