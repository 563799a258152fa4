/**
 * Log-space arithmetic for the RDP accountant. The sampled Gaussian's moments span hundreds of orders of
 * magnitude (e^{α²/2σ²} against q^α), so every sum is taken in log space.
 */

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** log(e^a + e^b) without overflow. */
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

/** log(e^a - e^b) for a ≥ b. */
export function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a < b) throw new RangeError(`logSub: the result of the subtraction must be non-negative (log terms ${a} < ${b})`);
  if (a === b) return -Infinity;
  // e^{a-b} - 1 overflows past ~709; then e^b is negligible next to e^a.
  if (a - b > 700) return a;
  return Math.log(Math.expm1(a - b)) + b;
}

/**
 * erf(x) for 0 ≤ x < 1.5 through the everywhere-positive series
 * erf(x) = 2/√π · e^{-x²} · Σ_n 2^n x^{2n+1} / (2n+1)!!  (A&S 7.1.6), which avoids the cancellation of the
 * alternating Taylor series.
 */
function erfSeries(x: number): number {
  const twoX2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= twoX2 / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/**
 * log of the continued fraction g(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + …))) for x > 0, so that
 * erfc(x) = e^{-x²} / (√π · g(x))  (A&S 7.1.14), evaluated with the modified Lentz method.
 */
function logErfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = f;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/** Below this the series (erfc = 1 - erf) loses no digits; above it the continued fraction converges in few terms. */
const SERIES_LIMIT = 1.5;

/** erfc(x) for x ≥ 0. */
function erfcNonNegative(x: number): number {
  return x < SERIES_LIMIT ? 1 - erfSeries(x) : Math.exp(logErfcContinuedFraction(x));
}

/** Complementary error function, ~1e-15 relative accuracy until erfc underflows (x ≳ 26). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return 2;
  return x >= 0 ? erfcNonNegative(x) : 2 - erfcNonNegative(-x);
}

/** log(erfc(x)), finite far into the tail where erfc itself underflows (x = 40 gives ≈ -1604.26). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.log(2);
  if (x < 0) return Math.log(2 - erfcNonNegative(-x));
  return x < SERIES_LIMIT ? Math.log1p(-erfSeries(x)) : logErfcContinuedFraction(x);
}
