/**
 * The maths of step-level curves, kept out of the views so the run page and Compare smooth and average alike.
 * Metric keys of the worker's contract (src-worker/protocol.ts STEP_METRIC_KEYS): `step/train_loss`, `step/lr`,
 * stored at the global optimizer step.
 */

export interface StepValue {
  step: number;
  /** null (or NaN) is a missing value: a DP window without examples, a diverged loss. */
  value: number | null;
}

export interface StepBand {
  step: number;
  mean: number | null;
  /** Sample SD (n − 1); null below two seeds, where a spread means nothing. */
  sd: number | null;
  /** How many seeds have a value at this step. */
  n: number;
}

/** TensorBoard's default smoothing weight: strong enough to read a trend through batch noise, not to hide a spike. */
export const DEFAULT_SMOOTHING = 0.6;

function present(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Exponential moving average with `alpha` the weight of the past (TensorBoard's smoothing: 0 returns the values,
 * 0.99 is nearly flat), debiased so the first points are not pulled towards 0 as a plain EMA started at 0 would.
 * Missing values stay missing and do not move the average.
 */
export function emaSmooth(values: readonly (number | null)[], alpha: number): (number | null)[] {
  if (!(alpha >= 0 && alpha < 1)) throw new RangeError(`emaSmooth: alpha must be in [0, 1), got ${alpha}`);
  let last = 0;
  let weight = 0;
  return values.map((v) => {
    if (!present(v)) return null;
    last = alpha * last + (1 - alpha) * v;
    weight = alpha * weight + (1 - alpha);
    return last / weight;
  });
}

/**
 * Mean ± sample SD per step over seeds: one series per seed, points matched by step (the worker logs every seed of
 * a config at the same global steps). A step only some seeds reached (one still running) gets a smaller `n`.
 */
export function bandsOverSeeds(seriesPerSeed: readonly (readonly StepValue[])[]): StepBand[] {
  const byStep = new Map<number, number[]>();
  for (const series of seriesPerSeed) {
    for (const p of series) {
      const values = byStep.get(p.step) ?? [];
      if (present(p.value)) values.push(p.value);
      byStep.set(p.step, values);
    }
  }
  return [...byStep.entries()]
    .sort(([a], [b]) => a - b)
    .map(([step, xs]) => {
      const n = xs.length;
      if (n === 0) return { step, mean: null, sd: null, n };
      const mean = xs.reduce((a, b) => a + b, 0) / n;
      // two-pass: the spread of close seeds keeps its digits
      const sd = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
      return { step, mean, sd, n };
    });
}

/**
 * The x range that holds data, so an axis starts at the first logged step (a resumed or sparse run does not
 * begin at 0); null when no series has a point.
 */
export function stepExtent(series: readonly (readonly { step: number }[])[]): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) {
    for (const p of s) {
      if (p.step < min) min = p.step;
      if (p.step > max) max = p.step;
    }
  }
  return min <= max ? { min, max } : null;
}
