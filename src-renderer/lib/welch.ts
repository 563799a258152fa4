/**
 * Welch's unequal-variance t-test from summary statistics (mean, sample SD, n), with Student's t distribution
 * computed here through the regularized incomplete beta function: the compare views decide "best" with it, and
 * a statistics library would be a large dependency for three functions.
 */

import type { MeanSd } from './format';

// Lanczos approximation (g = 7, 9 terms): ~15 significant digits for x > 0, enough for p-values.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be > 0, got ${x}`);
  // reflection keeps the series accurate for small x
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The continued fraction of I_x(a, b) (modified Lentz), valid where x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    const even = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + even * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + even / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + odd * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + odd / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) return h;
  }
  throw new Error(`regularizedIncompleteBeta: no convergence for x=${x}, a=${a}, b=${b}`);
}

/** I_x(a, b), the regularized incomplete beta function, for 0 ≤ x ≤ 1 and a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new Error(`regularizedIncompleteBeta: a and b must be > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // the fraction converges fast only on one side of the mean; the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) covers the other
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's is). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`studentTTwoSidedP: degrees of freedom must be > 0, got ${df}`);
  if (Number.isNaN(t)) throw new Error('studentTTwoSidedP: t is NaN');
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Student's t CDF, P(T ≤ t). */
export function studentTCdf(t: number, df: number): number {
  const tail = studentTTwoSidedP(t, df) / 2;
  return t >= 0 ? 1 - tail : tail;
}

export interface WelchResult {
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Welch's t-test of two groups given as mean ± sample SD with n. Null when either side has fewer than two
 * values (no SD, so nothing to test). Two groups without any spread have p = 0 if their means differ, 1 if not.
 */
export function welchTest(a: MeanSd, b: MeanSd): WelchResult | null {
  if (a.mean === null || b.mean === null || a.sd === null || b.sd === null || a.n < 2 || b.n < 2) return null;
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const diff = a.mean - b.mean;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    const df = a.n + b.n - 2;
    return diff === 0 ? { t: 0, df, p: 1 } : { t: diff > 0 ? Infinity : -Infinity, df, p: 0 };
  }
  const df = (va + vb) ** 2 / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  const t = diff / se;
  return { t, df, p: studentTTwoSidedP(t, df) };
}

export const SIGNIFICANCE_LEVEL = 0.05;

/** How the top group compares with the runner-up. */
export type WinnerVerdict =
  | { kind: 'winner'; index: number; runnerUp: number; test: WelchResult }
  | { kind: 'no-clear-winner'; index: number; runnerUp: number; test: WelchResult | null; reason: string }
  | { kind: 'alone'; index: number }
  | { kind: 'none' };

/**
 * The candidate with the highest mean is the winner only if Welch's test against the runner-up (the next
 * highest mean) rejects equal means at `alpha` (two-sided); otherwise there is no clear winner, with the reason.
 */
export function significantWinner(candidates: readonly MeanSd[], alpha = SIGNIFICANCE_LEVEL): WinnerVerdict {
  const ranked = candidates
    .map((c, index) => ({ c, index }))
    .filter((x): x is { c: MeanSd & { mean: number }; index: number } => x.c.mean !== null && x.c.n > 0)
    .sort((x, y) => y.c.mean - x.c.mean);
  if (ranked.length === 0) return { kind: 'none' };
  if (ranked.length === 1) return { kind: 'alone', index: ranked[0].index };
  const [top, second] = ranked;
  const test = welchTest(top.c, second.c);
  if (!test) {
    return { kind: 'no-clear-winner', index: top.index, runnerUp: second.index, test: null, reason: `n < 2 (n=${top.c.n} vs ${second.c.n})` };
  }
  if (test.p < alpha) return { kind: 'winner', index: top.index, runnerUp: second.index, test };
  return { kind: 'no-clear-winner', index: top.index, runnerUp: second.index, test, reason: `${formatP(test.p)}, n=${top.c.n} vs ${second.c.n}` };
}

/** "p = 0.073", "p < 0.001": two significant digits, as people read p-values. */
export function formatP(p: number): string {
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p.toPrecision(2)}`;
}
