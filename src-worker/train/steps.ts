import * as tf from '@tensorflow/tfjs';
import type { RunSpec } from '../run-spec';
import type { CheckpointHeader } from './checkpoint';
import { countTopK, crossEntropyFromLogits } from './loss';
import type { NamedParameter, Sgd } from './sgd';
import type { TrainableModel, TrainBatch, TrainingDataset } from './types';

/**
 * The loop (loop.ts) is the same for plain SGD and DP-SGD; what one "step" is differs: a shuffled mini-batch
 * here, a Poisson-sampled logical batch in dp-steps.ts. Both implement this seam.
 */
export interface StepResult {
  /** Mean loss of the step's examples (NaN when a DP step drew none). */
  loss: number;
  examples: number;
  /** Top-1 hits among them; null when the step cannot tell without another forward (DP-SGD). */
  correct: number | null;
  /** Milliseconds spent waiting for data in this step. */
  waitMs: number;
}

export interface EpochSteps {
  /** Trains the next step of the epoch; null once the epoch is over. */
  next(lr: number, globalStep: number, collectStats: boolean): Promise<StepResult | null>;
  close(): Promise<void>;
}

export interface StepEngine {
  stepsPerEpoch: number;
  /** False for DP-SGD: its epoch metrics report train_acc as NaN. */
  measuresTrainAccuracy: boolean;
  openEpoch(epoch: number, startStep: number): EpochSteps;
  /** Privacy spent so far (DP runs only). */
  epsilon?(): number;
  /** What a checkpoint must hold for the accountant to continue exactly (DP runs only). */
  checkpointState?(): NonNullable<CheckpointHeader['dp']>;
}

/** One SGD step; returns the batch's mean loss and its number of top-1 hits. */
function trainStep(model: TrainableModel, params: NamedParameter[], sgd: Sgd, batch: TrainBatch, lr: number, step: number, collectStats: boolean) {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
    const y = tf.tensor1d(batch.y, 'int32');
    let correct: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forwardWith(x, { training: true, collectStats, step });
      correct = tf.keep(countTopK(logits, y, 1));
      return crossEntropyFromLogits(logits, y);
    }, params.map((p) => p.variable));
    sgd.step(grads, lr);
    return { loss: value, correct: correct! };
  });
}

/** Plain mini-batch SGD over one shuffled pass of the training set per epoch. */
export function sgdEngine(spec: RunSpec, model: TrainableModel, dataset: TrainingDataset, params: NamedParameter[], sgd: Sgd): StepEngine {
  return {
    stepsPerEpoch: Math.ceil(dataset.trainSize / spec.batchSize),
    measuresTrainAccuracy: true,
    openEpoch(epoch, startStep) {
      const iterator = dataset
        .batches('train', {
          batchSize: spec.batchSize, epoch, seed: spec.seed, shuffle: true,
          augment: spec.augment ?? true, dropLast: false, startBatch: startStep,
        })[Symbol.asyncIterator]();
      return {
        async next(lr, globalStep, collectStats) {
          const waitStart = performance.now();
          const next = await iterator.next();
          const waitMs = performance.now() - waitStart;
          if (next.done) return null;
          const batch = next.value;
          const { loss, correct } = trainStep(model, params, sgd, batch, lr, globalStep, collectStats);
          const [l, c] = await Promise.all([loss.data(), correct.data()]);
          tf.dispose([loss, correct]);
          return { loss: l[0], examples: batch.size, correct: c[0], waitMs };
        },
        async close() {
          await iterator.return?.();
        },
      };
    },
  };
}
