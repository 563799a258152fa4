import type { DpOptions } from '../../run-spec';
import { calibrateNoiseMultiplier } from './calibration';
import { epsilonFor } from './rdp-accountant';

export interface DpPlan {
  /** Poisson rate q = logicalBatch / trainSize. */
  sampleRate: number;
  /** Logical steps per epoch: trainSize / logicalBatch rounded, at least 1 (one expected pass over the data). */
  stepsPerEpoch: number;
  totalSteps: number;
  /** σ: calibrated for totalSteps when targetEpsilon is set, else the one given. */
  noiseMultiplier: number;
  maxGradNorm: number;
  delta: number;
  /** ε after all totalSteps. */
  epsilon: number;
  /** Expected logical batch q·N, the divisor of the noised gradient sum. */
  expectedBatchSize: number;
}

/** Everything the trainer needs to run DP-SGD for `epochs` epochs on `trainSize` examples. */
export function dpPlan(trainSize: number, dp: DpOptions, epochs: number): DpPlan {
  if (!Number.isInteger(trainSize) || trainSize <= 0) throw new RangeError(`dpPlan: trainSize must be a positive integer, got ${trainSize}`);
  if (!Number.isInteger(epochs) || epochs <= 0) throw new RangeError(`dpPlan: epochs must be a positive integer, got ${epochs}`);
  if (dp.logicalBatch > trainSize) {
    throw new RangeError(`dpPlan: dp.logicalBatch (${dp.logicalBatch}) exceeds the training set (${trainSize} examples)`);
  }
  const sampleRate = dp.logicalBatch / trainSize;
  const stepsPerEpoch = Math.max(1, Math.round(trainSize / dp.logicalBatch));
  const totalSteps = stepsPerEpoch * epochs;
  let noiseMultiplier: number;
  if (dp.targetEpsilon !== undefined) {
    noiseMultiplier = calibrateNoiseMultiplier({ targetEpsilon: dp.targetEpsilon, delta: dp.delta, sampleRate, steps: totalSteps }).noiseMultiplier;
  } else if (dp.noiseMultiplier !== undefined) {
    noiseMultiplier = dp.noiseMultiplier;
  } else {
    throw new RangeError('dpPlan: dp needs targetEpsilon or noiseMultiplier');
  }
  const { epsilon } = epsilonFor({ noiseMultiplier, sampleRate, steps: totalSteps, delta: dp.delta });
  return {
    sampleRate, stepsPerEpoch, totalSteps, noiseMultiplier, maxGradNorm: dp.maxGradNorm, delta: dp.delta, epsilon,
    expectedBatchSize: sampleRate * trainSize,
  };
}

/** ε spent after `steps` steps of a plan (the per-epoch `epsilon` metric). */
export function epsilonAfter(plan: Pick<DpPlan, 'noiseMultiplier' | 'sampleRate' | 'delta'>, steps: number): number {
  return epsilonFor({ noiseMultiplier: plan.noiseMultiplier, sampleRate: plan.sampleRate, steps, delta: plan.delta }).epsilon;
}

// The paper's DP-SGD recipe is a preset like the others (presets.ts, dpPaperRecipe): the DP maths here does not
// import the presets, so the two modules do not import each other.
