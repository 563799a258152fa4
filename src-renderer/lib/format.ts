/** Display helpers shared by the views; accuracies arrive as fractions (0..1) and are shown in percent. */

export interface MeanSd {
  mean: number | null;
  sd: number | null;
  n: number;
}

/** Percent with fixed digits: 0.93125 → "93.13". */
export function pct(fraction: number | null | undefined, digits = 2): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return (fraction * 100).toFixed(digits);
}

/**
 * "93.13 ± 0.15 (n=3)" for accuracy fractions. A single run has no spread, so it shows "93.13 (n=1)"
 * rather than a misleading "± 0.00".
 */
export function formatMeanSd(value: MeanSd, opts: { digits?: number; showN?: boolean; plusMinus?: string } = {}): string {
  const digits = opts.digits ?? 2;
  const pm = opts.plusMinus ?? '±';
  if (value.n === 0 || value.mean === null) return '—';
  const core = value.n > 1 && value.sd !== null ? `${pct(value.mean, digits)} ${pm} ${pct(value.sd, digits)}` : pct(value.mean, digits);
  return opts.showN === false ? core : `${core} (n=${value.n})`;
}

/** Sample mean and standard deviation (n − 1), as papers report over seeds. */
export function meanSd(values: readonly number[]): MeanSd {
  const finite = values.filter((v) => Number.isFinite(v));
  const n = finite.length;
  if (n === 0) return { mean: null, sd: null, n: 0 };
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, sd: null, n };
  const variance = finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, sd: Math.sqrt(variance), n };
}

/** 3725 s → "1 h 2 min"; 42 s → "42 s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

/**
 * A value someone set (a learning rate, a width): shown as given, never rounded, since 0.0015625 and 0.00156
 * are different experiments. toPrecision(12) only drops binary noise such as 0.1 + 0.2's.
 */
export function formatSetting(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return String(Number(value.toPrecision(12)));
}

export function formatTimestamp(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString();
}
