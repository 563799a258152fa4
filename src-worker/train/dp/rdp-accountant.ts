import { logAdd, logErfc, logSub } from './log-math';

/**
 * Rényi-DP accountant for the Poisson-sampled Gaussian mechanism (Mironov 2017; Mironov, Talwar & Zhang
 * 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"), following the computation in
 * TF Privacy's rdp_accountant and Opacus's accountants/analysis/rdp.
 */

/** Opacus's DEFAULT_ALPHAS: 1.1, 1.2, …, 10.9 and 12, 13, …, 63. */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
]);

/**
 * How RDP turns into (ε, δ)-DP.
 * - `balle2020`: ε = rdp − (log δ + log α)/(α − 1) + log((α − 1)/α) (Balle et al. 2020, Theorem 21), what
 *   Opacus's get_privacy_spent and current TF Privacy use; tighter.
 * - `classic`: ε = rdp + log(1/δ)/(α − 1) (Mironov 2017, Proposition 3), what older TF Privacy releases and
 *   the tutorials' published numbers used.
 */
export type RdpConversion = 'balle2020' | 'classic';

function fail(what: string): never {
  throw new RangeError(`rdpAccountant: ${what}`);
}

export function checkSampleRate(q: number, name = 'sampleRate'): void {
  if (!Number.isFinite(q) || q <= 0 || q > 1) fail(`${name} must be in (0, 1], got ${q}`);
}
export function checkNoiseMultiplier(sigma: number, name = 'noiseMultiplier'): void {
  if (!Number.isFinite(sigma) || sigma <= 0) fail(`${name} must be a finite number > 0, got ${sigma}`);
}
export function checkDelta(delta: number, name = 'delta'): void {
  if (!Number.isFinite(delta) || delta <= 0 || delta >= 1) fail(`${name} must be in (0, 1), got ${delta}`);
}
export function checkSteps(steps: number, name = 'steps'): void {
  if (!Number.isInteger(steps) || steps < 0) fail(`${name} must be an integer ≥ 0, got ${steps}`);
}
function checkOrder(order: number): void {
  if (!(order > 1) || !Number.isFinite(order)) fail(`RDP orders must be finite numbers > 1, got ${order}`);
}

/** log A_α for integer α: the binomial expansion Σ_i C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/2σ²}. */
function logAIntegerOrder(q: number, sigma: number, order: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logA = -Infinity;
  let logBinom = 0; // log C(α, 0)
  for (let i = 0; i <= order; i++) {
    if (i > 0) logBinom += Math.log(order - i + 1) - Math.log(i);
    const term = logBinom + i * logQ + (order - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA;
}

/**
 * log A_α for fractional α: the two series split at z0 = σ² log(1/q − 1) + 1/2 (Mironov et al. 2019,
 * Section 3.3). Generalised binomial coefficients change sign, so the terms are added or subtracted in log
 * space; the series stops once both terms fall below e^{-30} relative to 1, as TF Privacy does.
 */
function logAFractionalOrder(q: number, sigma: number, order: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sqrt2Sigma = Math.SQRT2 * sigma;
  let logAbsBinom = 0; // log |C(α, 0)|
  let binomSign = 1;
  for (let i = 0; ; i++) {
    if (i > 0) {
      const factor = order - i + 1;
      logAbsBinom += Math.log(Math.abs(factor)) - Math.log(i);
      if (factor < 0) binomSign = -binomSign;
    }
    const j = order - i;
    const logT0 = logAbsBinom + i * logQ + j * log1mQ;
    const logT1 = logAbsBinom + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (binomSign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
    if (i > 100_000) fail(`the series for order ${order} (q=${q}, σ=${sigma}) did not converge`);
  }
  return logAdd(logA0, logA1);
}

/** RDP ε(α) of one step of the sampled Gaussian mechanism with sampling rate q and noise multiplier σ. */
export function sampledGaussianRdp(q: number, sigma: number, order: number): number {
  checkSampleRate(q);
  checkNoiseMultiplier(sigma);
  checkOrder(order);
  // Without sampling this is the Gaussian mechanism: D_α(N(1,σ²) ‖ N(0,σ²)) = α/(2σ²).
  if (q === 1) return order / (2 * sigma * sigma);
  const logA = Number.isInteger(order) ? logAIntegerOrder(q, sigma, order) : logAFractionalOrder(q, sigma, order);
  return logA / (order - 1);
}

export interface RdpComposition {
  sampleRate: number;
  noiseMultiplier: number;
  steps: number;
  orders?: readonly number[];
}

/** RDP at each order after `steps` compositions of the same mechanism (RDP adds up over steps). */
export function composedRdp({ sampleRate, noiseMultiplier, steps, orders = DEFAULT_RDP_ORDERS }: RdpComposition): number[] {
  checkSteps(steps);
  return orders.map((order) => (steps === 0 ? 0 : steps * sampledGaussianRdp(sampleRate, noiseMultiplier, order)));
}

export interface PrivacySpent {
  epsilon: number;
  /** The RDP order that gave the smallest ε; Infinity when nothing was spent (ε = 0, the limit α → ∞). */
  order: number;
}

/** The smallest ε over the orders, for the given δ. */
export function rdpToEpsilon(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = 'balle2020',
): PrivacySpent {
  checkDelta(delta);
  if (orders.length === 0 || orders.length !== rdp.length) {
    fail(`orders and rdp must be non-empty and of equal length, got ${orders.length} and ${rdp.length}`);
  }
  // Zero RDP at every order (no steps taken) reveals nothing. The conversion's log(1/δ)/(α − 1) term only vanishes
  // as α → ∞, so the finite orders alone would report a spurious ε > 0 (0.14 for the default orders at δ = 1e-5).
  if (rdp.every((r) => r === 0)) {
    orders.forEach(checkOrder);
    return { epsilon: 0, order: Infinity };
  }
  let best: PrivacySpent = { epsilon: Infinity, order: NaN };
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k];
    const r = rdp[k];
    checkOrder(alpha);
    if (!(r >= 0)) fail(`RDP values must be ≥ 0, got ${r} at order ${alpha}`);
    const eps =
      conversion === 'balle2020'
        ? r - (Math.log(delta) + Math.log(alpha)) / (alpha - 1) + Math.log((alpha - 1) / alpha)
        : r - Math.log(delta) / (alpha - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: alpha };
  }
  // ε < 0 can come out of the formula for tiny RDP and large δ; a guarantee never beats ε = 0.
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

export interface EpsilonQuery extends RdpComposition {
  delta: number;
  conversion?: RdpConversion;
}

/** ε (and the best order) of DP-SGD with Poisson rate q and noise σ after `steps` steps, at δ. */
export function epsilonFor(query: EpsilonQuery): PrivacySpent {
  const orders = query.orders ?? DEFAULT_RDP_ORDERS;
  return rdpToEpsilon(orders, composedRdp({ ...query, orders }), query.delta, query.conversion);
}

/**
 * Running accountant: records (σ, q, steps) as training goes, so mechanisms with different σ or q compose
 * (a run resumed with another batch size still accounts correctly).
 */
export class RdpAccountant {
  readonly history: { noiseMultiplier: number; sampleRate: number; steps: number }[] = [];
  constructor(readonly orders: readonly number[] = DEFAULT_RDP_ORDERS) {
    orders.forEach(checkOrder);
  }

  step(noiseMultiplier: number, sampleRate: number, steps = 1): void {
    checkNoiseMultiplier(noiseMultiplier);
    checkSampleRate(sampleRate);
    checkSteps(steps);
    const last = this.history.at(-1);
    if (last && last.noiseMultiplier === noiseMultiplier && last.sampleRate === sampleRate) last.steps += steps;
    else this.history.push({ noiseMultiplier, sampleRate, steps });
  }

  totalSteps(): number {
    return this.history.reduce((n, h) => n + h.steps, 0);
  }

  getPrivacySpent(delta: number, conversion: RdpConversion = 'balle2020'): PrivacySpent {
    const total = this.orders.map(() => 0);
    for (const h of this.history) {
      composedRdp({ ...h, orders: this.orders }).forEach((r, k) => (total[k] += r));
    }
    return rdpToEpsilon(this.orders, total, delta, conversion);
  }
}
