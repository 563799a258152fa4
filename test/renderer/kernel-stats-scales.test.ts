import { describe, expect, it } from 'vitest';
import type { NormStatsRecord } from '../../src-main/store/types';
import { colourBarTicks, colourPosition, formatShare, niceTicks, paletteColour, SHARE_PALETTE } from '../../src-renderer/lib/colour-scale';
import { histogramGrid, rebinShares, sharedRange } from '../../src-renderer/lib/kernel-stats';
import { layerTracks } from '../../src-renderer/lib/layer-depth';
import { evolutionRanges, overviewScales, roundShareUp, STRIP_BINS } from '../../src-renderer/lib/overview-scales';
import type { DistributionSummary } from '../../src-worker/kn/stats';

const summary = (lo: number, hi: number, counts: number[], share?: number): DistributionSummary => ({
  mean: 0, std: 1, min: lo, max: hi, percentiles: [0, 0, 0, 0, 0], histogram: { lo, hi, counts },
  ...(share === undefined ? {} : { nearConstant: { share, count: share * 10, total: 10, unit: 'windows' as const, eps: 1e-5, factor: 10 } }),
});

let id = 1;
function rec(runId: number, layer: string, step: number, mean: DistributionSummary, std: DistributionSummary): NormStatsRecord {
  return { id: id++, runId, epoch: 1, step, layer, kind: 'kn', mean, std, time: 0 };
}

describe('shared scales', () => {
  it('puts two runs’ heatmaps on one value axis: the same rows mean the same values', () => {
    const a = [{ step: 1, epoch: 1, summary: summary(0, 1, [4, 4]) }];
    const b = [{ step: 1, epoch: 1, summary: summary(2, 4, [8]) }];
    const range = sharedRange([...a, ...b].map((r) => r.summary));
    expect(range).toEqual({ lo: 0, hi: 4 });
    const ga = histogramGrid(a, 4, range ?? undefined);
    const gb = histogramGrid(b, 4, range ?? undefined);
    expect([ga.lo, ga.hi, gb.lo, gb.hi]).toEqual([0, 4, 0, 4]);
    // a's values in [0, 1) fill row 0; b's [2, 4) fill rows 2 and 3
    expect(ga.cells).toEqual([[0, 0, 1]]);
    expect(gb.cells).toEqual([[0, 2, 0.5], [0, 3, 0.5]]);
    // on its own axis b would have filled every row
    expect(histogramGrid(b, 4).cells.map((c) => c[1])).toEqual([0, 1, 2, 3]);
    expect(rebinShares({ lo: 0, hi: 1, counts: [0, 0] }, { lo: 0, hi: 1 }, 2)).toBeNull();
    expect(sharedRange([summary(Number.NaN, Number.NaN, [0])])).toBeNull();
  });

  it('overview: a layer and its depth partner share value axes; colours, share axis and steps are page-wide', () => {
    // run 1: two KN layers; run 2: three BN layers; shares of near-constant units up to 30 %
    const left = layerTracks([
      rec(1, 'k0', 10, summary(0, 1, [5, 5]), summary(1, 2, [10], 0.3)),
      rec(1, 'k1', 10, summary(-1, 0, [10]), summary(1, 3, [5, 5], 0.1)),
    ]);
    const right = layerTracks([
      rec(2, 'b0', 20, summary(0, 2, [10]), summary(0.5, 1, [10], 0)),
      rec(2, 'b1', 20, summary(0, 0.5, [10]), summary(1, 1.5, [10], 0)),
      rec(2, 'b2', 20, summary(-2, 0, [10]), summary(2, 4, [10], 0.05)),
    ]);
    const s = overviewScales([left, right], null);
    // k0 ↔ b0 (depth 0), k1 ↔ b2 (depth 1); b1 (depth 0.5) pairs with k1 (round(0.5) = 1)
    expect(s.panels[0][0]).toEqual({ meanRange: { lo: 0, hi: 2 }, stdRange: { lo: 0.5, hi: 2 } });
    expect(s.panels[1][0]).toEqual(s.panels[0][0]);
    expect(s.panels[0][1]).toEqual({ meanRange: { lo: -2, hi: 0 }, stdRange: { lo: 1, hi: 4 } });
    expect(s.panels[1][2]).toEqual(s.panels[0][1]);
    expect(s.panels[1][1]).toEqual({ meanRange: { lo: -1, hi: 0.5 }, stdRange: { lo: 1, hi: 3 } });
    expect(s.steps).toEqual([10, 20]);
    expect(s.shareMax).toBeCloseTo(0.3, 12);
    // every strip's values of one histogram bin fall into few common bins: the fullest holds a whole histogram
    expect(s.colourMax).toBeGreaterThan(0);
    expect(s.colourMax).toBeLessThanOrEqual(1);
    const one = overviewScales([left], null);
    expect(one.panels[0][0]).toEqual({ meanRange: { lo: 0, hi: 1 }, stdRange: { lo: 1, hi: 2 } });
    expect(STRIP_BINS).toBe(24);
  });

  it('evolution heatmaps of a layer and its partner span both layers’ samples', () => {
    const a = layerTracks([rec(1, 'k', 1, summary(0, 1, [1]), summary(1, 2, [1])), rec(1, 'k', 2, summary(0, 3, [1]), summary(1, 5, [1]))]);
    const b = layerTracks([rec(2, 'b', 1, summary(-1, 0, [1]), summary(0.5, 1, [1]))]);
    expect(evolutionRanges([...a, ...b])).toEqual({ meanRange: { lo: -1, hi: 3 }, stdRange: { lo: 0.5, hi: 5 } });
  });

  it('rounds the share axis up to a round number, 1 % when nothing is near-constant', () => {
    expect(roundShareUp(0)).toBe(0.01);
    expect(roundShareUp(0.27)).toBe(0.3);
    expect(roundShareUp(0.031)).toBe(0.04);
    expect(roundShareUp(0.3)).toBe(0.3);
    expect(roundShareUp(0.97)).toBe(1);
  });
});

describe('colour bars with numbers', () => {
  it('ticks at round values inside the range', () => {
    expect(niceTicks(0, 0.37, 4)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.5, 1]);
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.98, 1.43, 3)).toEqual([1, 1.2, 1.4]);
    expect(niceTicks(0.98, 1.43, 5)).toEqual([1, 1.1, 1.2, 1.3, 1.4]);
    expect(niceTicks(-2, 2, 4)).toEqual([-2, -1, 0, 1, 2]);
    expect(niceTicks(1, 1)).toEqual([1]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });

  it('colours follow the heatmaps’ palette, and shares read as percentages', () => {
    expect(paletteColour(0)).toBe('rgb(248, 250, 252)');
    expect(paletteColour(1)).toBe('rgb(11, 31, 77)');
    expect(paletteColour(1 / 3)).toBe('rgb(147, 197, 253)');
    expect(paletteColour(2)).toBe(paletteColour(1));
    expect(SHARE_PALETTE).toHaveLength(4);
    expect([formatShare(0), formatShare(0.42), formatShare(0.035), formatShare(0.0025), formatShare(Number.NaN)]).toEqual(['0 %', '42 %', '3.5 %', '0.25 %', '–']);
  });

  it('colour bars: numbers on the square-root colour scale, never closer than the gap, the top always labelled', () => {
    expect(colourPosition(0.25, 1)).toBe(0.5);
    expect(colourPosition(2, 1)).toBe(1);
    expect(colourPosition(0.1, 0)).toBe(0);
    const ticks = colourBarTicks(0.13, 200, 30);
    expect(ticks[0]).toEqual({ value: 0, x: 0 });
    expect(ticks.at(-1)).toEqual({ value: 0.13, x: 200 });
    for (let i = 1; i < ticks.length; i++) expect(ticks[i].x - ticks[i - 1].x).toBeGreaterThanOrEqual(30);
    // 0.12 sits 8 px below 0.13: the top replaces it
    expect(ticks.map((t) => t.value)).not.toContain(0.12);
    expect(ticks.map((t) => t.value)).toContain(0.02);
    // a share's colour and its number sit at the same place: 0.0325 (a quarter of 0.13) is at half the bar
    expect(colourPosition(0.0325, 0.13) * 200).toBeCloseTo(100, 10);
  });
});
