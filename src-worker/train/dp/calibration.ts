import {
  checkDelta,
  checkSampleRate,
  checkSteps,
  epsilonFor,
  type PrivacySpent,
  type RdpConversion,
} from './rdp-accountant';

export interface CalibrationRequest {
  targetEpsilon: number;
  delta: number;
  sampleRate: number;
  steps: number;
  /** Stop once the achieved ε is within this much below the target (Opacus's epsilon_tolerance). */
  tolerance?: number;
  orders?: readonly number[];
  conversion?: RdpConversion;
}

export interface Calibration extends PrivacySpent {
  /** The noise multiplier σ; the ε it gives is ≤ targetEpsilon and ≥ targetEpsilon − tolerance. */
  noiseMultiplier: number;
}

/** Past this σ no practical training is left; Opacus gives up at the same bound. */
const MAX_NOISE_MULTIPLIER = 1e6;

/**
 * The smallest σ (up to the tolerance) whose ε after `steps` steps stays within the target, by the same
 * doubling-then-bisection as Opacus's get_noise_multiplier: ε falls monotonically as σ grows.
 */
export function calibrateNoiseMultiplier(req: CalibrationRequest): Calibration {
  const { targetEpsilon, delta, sampleRate, steps, tolerance = 0.01 } = req;
  if (!Number.isFinite(targetEpsilon) || targetEpsilon <= 0) {
    throw new RangeError(`calibrateNoiseMultiplier: targetEpsilon must be a finite number > 0, got ${targetEpsilon}`);
  }
  if (!Number.isFinite(tolerance) || tolerance <= 0) {
    throw new RangeError(`calibrateNoiseMultiplier: tolerance must be a finite number > 0, got ${tolerance}`);
  }
  checkDelta(delta);
  checkSampleRate(sampleRate);
  checkSteps(steps);
  // no step spends any privacy, so every σ meets every target and the bisection below would never end
  if (steps === 0) throw new RangeError('calibrateNoiseMultiplier: steps must be ≥ 1: with no steps any σ spends ε = 0');
  const spentAt = (sigma: number) =>
    epsilonFor({ noiseMultiplier: sigma, sampleRate, steps, delta, orders: req.orders, conversion: req.conversion });

  let low = 0;
  let high = 10;
  let atHigh: PrivacySpent = { epsilon: Infinity, order: NaN };
  while (atHigh.epsilon > targetEpsilon) {
    high *= 2;
    if (high > MAX_NOISE_MULTIPLIER) {
      throw new RangeError(
        `calibrateNoiseMultiplier: the privacy budget is too low: ε = ${targetEpsilon} at δ = ${delta} is out of reach ` +
          `with sampling rate ${sampleRate} over ${steps} steps even at σ = ${MAX_NOISE_MULTIPLIER}`,
      );
    }
    atHigh = spentAt(high);
  }
  while (targetEpsilon - atHigh.epsilon > tolerance) {
    const mid = (low + high) / 2;
    const atMid = spentAt(mid);
    if (atMid.epsilon < targetEpsilon) {
      high = mid;
      atHigh = atMid;
    } else {
      low = mid;
    }
  }
  return { noiseMultiplier: high, ...atHigh };
}
