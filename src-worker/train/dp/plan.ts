import type { DpOptions } from '../../run-spec';
import type { Preset } from '../presets';
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

export interface DpRecipe extends Preset {
  /** Values the paper searched over; `fields` holds the first of each. */
  grid: { lr: number[]; maxGradNorm: number[] };
}

/**
 * The paper's DP-SGD recipe (KernelNorm, TMLR 2024, DP experiments on CIFAR-10): SGD without momentum or
 * weight decay, lr ∈ {2, 3, 4} halved at epochs 70 and 90, 100 epochs, clipping C ∈ {1, 2}, logical batch
 * 8192 (Poisson), (ε, δ) = (8, 8e-7), Mish activations. `batchSize` is the physical micro-batch only.
 * KN dropout is 0: its masks would have to be replayed to compute per-sample gradients (layer-grads.ts).
 */
export const dpPaperRecipe: DpRecipe = {
  name: 'dp-paper',
  description:
    'DP-SGD recipe of the paper: ε=8, δ=8e-7, logical batch 8192 (Poisson), clip 1, SGD lr 2 without momentum or weight decay, halved at epochs 70/90, 100 epochs, Mish',
  fields: {
    dataset: 'cifar10',
    model: 'knresnet18',
    epochs: 100,
    batchSize: 128,
    lr: 2,
    momentum: 0,
    weightDecay: 0,
    schedule: { kind: 'multistep', milestones: [70, 90], gamma: 0.5 },
    activation: 'mish',
    knDropout: 0,
    lowResolution: true,
    dp: { targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 8192 },
  },
  grid: { lr: [2, 3, 4], maxGradNorm: [1, 2] },
};
