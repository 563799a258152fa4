/** One line of a LineChart. Kept in a .ts module so views that build series see the real type (lint reads .vue imports as untyped). */
export interface ChartSeries {
  name: string;
  /** [x, y] pairs; y null leaves a gap (a diverged loss). */
  points: [number, number | null][];
  /** Optional ±SD band drawn under the line. */
  band?: { lower: [number, number | null][]; upper: [number, number | null][] };
}
