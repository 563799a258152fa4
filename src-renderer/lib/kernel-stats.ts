import type { DistributionSummary } from '../../src-worker/kn/stats';

export interface HistogramGrid {
  /** Training step of each column. */
  steps: number[];
  epochs: number[];
  /** Value range of the rows (bin centres run from lo to hi). */
  lo: number;
  hi: number;
  bins: number;
  /** [column, row, share of the column's values] for echarts' heatmap. */
  cells: [number, number, number][];
  maxShare: number;
}

/** A value range [lo, hi] that several histograms are drawn on, so that they can be compared by eye. */
export interface ValueRange {
  lo: number;
  hi: number;
}

/**
 * The smallest range holding every summary's histogram (their [min, max]); null when none is finite. A range
 * of zero width is widened a little, so a constant distribution still gets a row.
 */
export function sharedRange(summaries: Iterable<DistributionSummary>): ValueRange | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of summaries) {
    if (Number.isFinite(s.histogram.lo)) lo = Math.min(lo, s.histogram.lo);
    if (Number.isFinite(s.histogram.hi)) hi = Math.max(hi, s.histogram.hi);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  if (hi <= lo) hi = lo + Math.max(1e-6, Math.abs(lo) * 1e-3);
  return { lo, hi };
}

/**
 * One histogram, over its own [lo, hi], moved onto `bins` common bins over `range` as shares of its values:
 * every source bin's count is spread over the common bins it overlaps, in proportion to the overlap (a batch
 * with more windows must not look "hotter"). Null for an empty histogram.
 */
export function rebinShares(histogram: DistributionSummary['histogram'], range: ValueRange, bins: number): number[] | null {
  const { counts, lo: rlo, hi: rhi } = histogram;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const { lo, hi } = range;
  const width = (hi - lo) / bins;
  const column = new Array<number>(bins).fill(0);
  const sourceWidth = (rhi - rlo) / Math.max(1, counts.length);
  counts.forEach((count, i) => {
    if (count === 0) return;
    const a = rlo + i * sourceWidth;
    const b = a + sourceWidth;
    if (sourceWidth <= 0) {
      column[Math.min(bins - 1, Math.max(0, Math.floor((a - lo) / width)))] += count;
      return;
    }
    const first = Math.max(0, Math.floor((a - lo) / width));
    const last = Math.min(bins - 1, Math.floor((b - lo) / width));
    for (let row = first; row <= last; row++) {
      const overlap = Math.min(b, lo + (row + 1) * width) - Math.max(a, lo + row * width);
      if (overlap > 0) column[row] += (count * overlap) / sourceWidth;
    }
  });
  return column.map((c) => c / total);
}

/**
 * Puts per-step histograms, each over its own [lo, hi], onto one common value axis so they can be drawn as a
 * heatmap, each column as shares. `range` fixes that axis (to share it with another run's heatmap); by default
 * it is the records' own.
 */
export function histogramGrid(records: { step: number; epoch: number; summary: DistributionSummary }[], bins = 40, range?: ValueRange): HistogramGrid {
  const sorted = [...records].sort((a, b) => a.step - b.step);
  const axis = range ?? sharedRange(sorted.map((r) => r.summary));
  if (!axis) return { steps: [], epochs: [], lo: 0, hi: 0, bins, cells: [], maxShare: 0 };
  const cells: [number, number, number][] = [];
  let maxShare = 0;
  sorted.forEach((r, col) => {
    const shares = rebinShares(r.summary.histogram, axis, bins);
    shares?.forEach((share, row) => {
      if (share === 0) return;
      maxShare = Math.max(maxShare, share);
      cells.push([col, row, share]);
    });
  });
  return { steps: sorted.map((r) => r.step), epochs: sorted.map((r) => r.epoch), lo: axis.lo, hi: axis.hi, bins, cells, maxShare };
}

export function binCentres(grid: Pick<HistogramGrid, 'lo' | 'hi' | 'bins'>): number[] {
  const width = (grid.hi - grid.lo) / grid.bins;
  return Array.from({ length: grid.bins }, (_, i) => grid.lo + (i + 0.5) * width);
}
