import * as tf from '@tensorflow/tfjs';
import { listModels } from '../models';
import type { RunSpec } from '../run-spec';
import { assertDpCompatible, createDpSgdStep, dpPlan, DpIncompatibleModelError, type DpBatchSource, type DpModel, type DpPlan } from './dp';
import { CheckpointError, type CheckpointHeader } from './checkpoint';
import type { Sgd } from './sgd';
import type { StepEngine } from './steps';
import type { TrainableModel, TrainingDataset } from './types';

/** A DP spec that cannot run on this data set or model (logical batch too large, no ε or σ, …). */
export class DpSetupError extends Error {
  override name = 'DpSetupError';
}

/**
 * Refuses a registry model DP-SGD cannot train from its metadata alone, before anything is built (the worker's
 * validation and sweep submission); createDpSgdStep checks the built model again. Unknown names pass: the
 * caller reports those with the list of valid models.
 */
export function refuseDpModel(name: string): void {
  const info = listModels().find((m) => m.name === name);
  if (!info) return;
  assertDpCompatible({
    info, layers: () => [], trainableVariables: () => [],
    forwardWith: () => {
      throw new Error(`refuseDpModel: ${name} is not built`);
    },
  });
}

function asDpModel(model: TrainableModel): DpModel {
  const layers = model.layers?.bind(model);
  const trainableVariables = model.trainableVariables?.bind(model);
  if (!layers || !trainableVariables) {
    throw new DpIncompatibleModelError(`DP-SGD cannot train ${model.info.name}: it does not list its layers for per-sample gradients`);
  }
  return {
    info: model.info,
    forwardWith: (x, ctx) => model.forwardWith(x, ctx),
    layers,
    trainableVariables,
  };
}

export function planFor(spec: RunSpec, trainSize: number): DpPlan {
  if (!spec.dp) throw new DpSetupError('planFor: the spec has no dp options');
  try {
    return dpPlan(trainSize, spec.dp, spec.epochs);
  } catch (err) {
    if (err instanceof RangeError) throw new DpSetupError(err.message.replace(/^dpPlan: /, 'DP-SGD: '));
    throw err;
  }
}

export interface DpEngineOptions {
  /** Logical steps already taken (a resumed run): the accountant is charged for them and sampling continues. */
  startStep: number;
  /** The DP state of the checkpoint being resumed, checked against this run's plan. */
  resumed?: CheckpointHeader['dp'];
  log(level: 'info' | 'warn', message: string): void;
}

/**
 * DP-SGD steps (Abadi et al. 2016, as in the paper's DP experiments): each step is one Poisson-sampled logical
 * batch of expected size dp.logicalBatch, run through the model in physical micro-batches of spec.batchSize,
 * clipped per example, noised once and handed to the run's SGD. An epoch is plan.stepsPerEpoch steps (one
 * expected pass), not a shuffled pass. train_acc is not measured: the per-sample-gradient forward does not
 * expose its logits, and a second forward would cost more than the metric is worth.
 */
export function dpEngine(spec: RunSpec, model: TrainableModel, dataset: TrainingDataset, sgd: Sgd, opts: DpEngineOptions): StepEngine {
  const dpModel = asDpModel(model);
  const getBatch = dataset.getBatch?.bind(dataset);
  if (!getBatch) throw new DpSetupError(`DP-SGD needs random access to the data set ${dataset.name} (getBatch)`);
  const plan = planFor(spec, dataset.trainSize);
  if (opts.resumed) {
    const r = opts.resumed;
    if (r.noiseMultiplier !== plan.noiseMultiplier || r.sampleRate !== plan.sampleRate || r.steps !== opts.startStep) {
      throw new CheckpointError(
        `cannot resume this DP run: the checkpoint took ${r.steps} steps at σ ${r.noiseMultiplier}, q ${r.sampleRate}; ` +
          `this spec plans σ ${plan.noiseMultiplier}, q ${plan.sampleRate} at step ${opts.startStep} (did epochs or the data set change?)`,
      );
    }
  }
  if (spec.activation !== 'mish') {
    opts.log('warn', `DP-SGD with ${spec.activation} activations: the paper trains every DP model with Mish (--activation mish)`);
  }
  const stepper = createDpSgdStep(dpModel, {
    noiseMultiplier: plan.noiseMultiplier, maxGradNorm: plan.maxGradNorm, sampleRate: plan.sampleRate, trainSize: dataset.trainSize,
    microBatchSize: spec.batchSize, delta: plan.delta, seed: spec.seed, startStep: opts.startStep,
  });
  opts.log('info',
    `DP-SGD: q ${plan.sampleRate.toPrecision(4)} (logical batch ${spec.dp!.logicalBatch} of ${dataset.trainSize}), ` +
      `${plan.stepsPerEpoch} steps/epoch, σ ${plan.noiseMultiplier.toPrecision(5)}, clip ${plan.maxGradNorm}, ` +
      `ε ${plan.epsilon.toFixed(3)} at δ ${plan.delta} after ${plan.totalSteps} steps`);
  const augment = spec.augment ?? true;

  return {
    stepsPerEpoch: plan.stepsPerEpoch,
    measuresTrainAccuracy: false,
    epsilon: () => stepper.epsilon(),
    checkpointState: () => ({
      steps: stepper.stepsTaken, noiseMultiplier: plan.noiseMultiplier, sampleRate: plan.sampleRate, delta: plan.delta,
      epsilon: stepper.epsilon(),
    }),
    openEpoch(epoch, startStep) {
      let inEpoch = startStep;
      return {
        async next(lr, globalStep, collectStats) {
          if (inEpoch >= plan.stepsPerEpoch) return null;
          if (globalStep !== stepper.stepsTaken) {
            throw new Error(`DP-SGD: the loop is at step ${globalStep} but the accountant has charged ${stepper.stepsTaken}`);
          }
          let waitMs = 0;
          let statsPending = collectStats;
          const source: DpBatchSource = async (indices) => {
            const start = performance.now();
            const batch = await getBatch('train', indices, { augment, seed: spec.seed, epoch });
            waitMs += performance.now() - start;
            if (statsPending) {
              // norm statistics come from an ordinary forward of the first micro-batch; they are diagnostics
              statsPending = false;
              tf.tidy(() => {
                model.forwardWith(tf.tensor4d(batch.x, [batch.size, ...batch.shape]), { training: true, collectStats: true, step: globalStep });
              });
            }
            return batch;
          };
          const result = await stepper.step(source);
          try {
            sgd.step(result.grads, lr);
          } finally {
            tf.dispose(Object.values(result.grads));
          }
          inEpoch++;
          return { loss: result.loss, examples: result.sampled, correct: null, waitMs };
        },
        async close() {},
      };
    },
  };
}
