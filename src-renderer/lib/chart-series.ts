/** One line of a LineChart. Kept in a .ts module so views that build series see the real type (lint reads .vue imports as untyped). */
export interface ChartSeries {
  name: string;
  /** [x, y] pairs; y null leaves a gap (a diverged loss). */
  points: [number, number | null][];
  /** Optional ±SD band drawn under the line. */
  band?: { lower: [number, number | null][]; upper: [number, number | null][] };
  /** Per point (same order as `points`): the SD and how many runs the mean stands on, for the tooltip. */
  stats?: { sd: number | null; n: number }[];
}

/**
 * The series' names made unique ("name", "name #2"): echarts merges series of one name into one legend entry,
 * which would hide that two lines are different groups.
 */
export function uniqueSeriesNames(series: readonly Pick<ChartSeries, 'name'>[]): string[] {
  const seen = new Map<string, number>();
  const taken = new Set(series.map((s) => s.name));
  return series.map((s) => {
    const count = (seen.get(s.name) ?? 0) + 1;
    seen.set(s.name, count);
    if (count === 1) return s.name;
    let k = count;
    while (taken.has(`${s.name} #${k}`)) k++;
    const name = `${s.name} #${k}`;
    taken.add(name);
    return name;
  });
}

/** "0.8123 ± 0.0100 (n=3)" or, in percent, "81.23 ± 1.00 % (n=3)": a tooltip's value for one point. */
export function formatPoint(y: number | null, stat: { sd: number | null; n: number } | undefined, percent: boolean): string {
  if (y === null || !Number.isFinite(y)) return '—';
  const show = (v: number) => (percent ? (v * 100).toFixed(2) : v.toPrecision(4));
  const sd = stat && stat.sd !== null && stat.n > 1 ? ` ± ${show(stat.sd)}` : '';
  const n = stat ? ` (n=${stat.n})` : '';
  return `${show(y)}${sd}${percent ? ' %' : ''}${n}`;
}

export interface MeanSdPoint {
  x: number;
  mean: number | null;
  sd: number | null;
  n: number;
}

/** Mean ± SD curve points as a series with its ±SD band and, for the tooltip, SD and n per point. */
export function meanSdSeries(name: string, points: readonly MeanSdPoint[]): ChartSeries {
  const at = (f: (m: number, s: number) => number) =>
    points.map((p) => [p.x, p.mean === null ? null : f(p.mean, p.sd ?? 0)] as [number, number | null]);
  return {
    name,
    points: at((m) => m),
    band: { lower: at((m, s) => m - s), upper: at((m, s) => m + s) },
    stats: points.map((p) => ({ sd: p.sd, n: p.n })),
  };
}

/**
 * Step curves are noisy window means: the mean and the SD over seeds are each smoothed with `smooth` (an EMA),
 * so the band follows the smoothed line; n stays the count of seeds at each step.
 */
export function smoothedMeanSdSeries(
  name: string,
  points: readonly MeanSdPoint[],
  smooth: (values: readonly (number | null)[]) => (number | null)[],
): ChartSeries {
  const mean = smooth(points.map((p) => p.mean));
  const sd = smooth(points.map((p) => p.sd));
  return meanSdSeries(name, points.map((p, i) => ({ x: p.x, mean: mean[i] ?? null, sd: sd[i] ?? null, n: p.n })));
}
