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

/**
 * Puts per-step histograms, each over its own [lo, hi], onto one common value axis so they can be drawn as a
 * heatmap: every source bin's count is spread over the common bins it overlaps, and each column is scaled to
 * shares (a batch with more windows must not look "hotter").
 */
export function histogramGrid(records: { step: number; epoch: number; summary: DistributionSummary }[], bins = 40): HistogramGrid {
  const sorted = [...records].sort((a, b) => a.step - b.step);
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of sorted) {
    lo = Math.min(lo, r.summary.histogram.lo);
    hi = Math.max(hi, r.summary.histogram.hi);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { steps: [], epochs: [], lo: 0, hi: 0, bins, cells: [], maxShare: 0 };
  if (hi <= lo) hi = lo + 1e-6;
  const width = (hi - lo) / bins;
  const cells: [number, number, number][] = [];
  let maxShare = 0;
  sorted.forEach((r, col) => {
    const { counts, lo: rlo, hi: rhi } = r.summary.histogram;
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    const column = new Array<number>(bins).fill(0);
    const sourceWidth = (rhi - rlo) / Math.max(1, counts.length);
    counts.forEach((count, i) => {
      if (count === 0) return;
      // spread the bin's count over the common bins it overlaps, in proportion to the overlap
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
    column.forEach((count, row) => {
      if (count === 0) return;
      const share = count / total;
      maxShare = Math.max(maxShare, share);
      cells.push([col, row, share]);
    });
  });
  return { steps: sorted.map((r) => r.step), epochs: sorted.map((r) => r.epoch), lo, hi, bins, cells, maxShare };
}

export function binCentres(grid: Pick<HistogramGrid, 'lo' | 'hi' | 'bins'>): number[] {
  const width = (grid.hi - grid.lo) / grid.bins;
  return Array.from({ length: grid.bins }, (_, i) => grid.lo + (i + 0.5) * width);
}
