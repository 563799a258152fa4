import * as tf from '@tensorflow/tfjs';
import { folderEpochLength } from '../data/folder';
import { hashInts, mulberry32 } from '../data/random';
import type { RunSpec } from '../run-spec';
import type { CheckpointHeader } from './checkpoint';
import { countTopK, crossEntropyFromLogits } from './loss';
import { mixBatch } from './recipe/mixing';
import { oneHotTargets, softCrossEntropy } from './recipe/soft-targets';
import type { NamedParameter } from './sgd';
import type { TrainableModel, TrainBatch, TrainingDataset } from './types';

/**
 * The loop (loop.ts) is the same for plain SGD and DP-SGD; what one "step" is differs: a shuffled mini-batch
 * (or `accumulate` of them) here, a Poisson-sampled logical batch in dp-steps.ts. Both implement this seam.
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

/** What a step applies its gradients with: the run's SGD or AdamW (recipe/optimizer.ts). */
export interface GradientStep {
  step(grads: tf.NamedTensorMap, lr: number): void;
}

/** The loss of the recipe: plain cross-entropy unless label smoothing or mixing turn the targets into rows. */
export interface LossRecipe {
  labelSmoothing: number;
  mixupAlpha: number;
  cutmixAlpha: number;
  numClasses: number;
  seed: number;
}

// a constant of its own, so the mixing draws never coincide with the data pipeline's (seed, epoch, index) draws
const MIXING_STREAM = 0x4d495831;

/**
 * The random stream of one micro-batch's mixing: a pure function of (seed, epoch, batch index), so a resumed epoch
 * mixes its remaining batches exactly as the uninterrupted run did.
 */
export function mixingRng(seed: number, epoch: number, batchIndex: number): () => number {
  return mulberry32(hashInts(seed, epoch, batchIndex, MIXING_STREAM));
}

interface MicroResult {
  loss: tf.Scalar;
  correct: tf.Scalar;
  grads: tf.NamedTensorMap;
}

/** Forward and backward of one micro-batch: its mean loss, top-1 hits and gradients (kept; the caller frees them). */
function microStep(
  model: TrainableModel, params: NamedParameter[], batch: TrainBatch, recipe: LossRecipe,
  at: { epoch: number; batchIndex: number; step: number }, collectStats: boolean,
): MicroResult {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
    const y = tf.tensor1d(batch.y, 'int32');
    const mixing = recipe.mixupAlpha > 0 || recipe.cutmixAlpha > 0;
    const soft = mixing || recipe.labelSmoothing > 0;
    let images: tf.Tensor4D = x;
    let targets: tf.Tensor2D | null = soft ? oneHotTargets(y, recipe.numClasses) : null;
    if (mixing && targets) {
      const mixed = mixBatch(x, targets, recipe, mixingRng(recipe.seed, at.epoch, at.batchIndex));
      images = mixed.images;
      targets = mixed.targets;
    }
    // with mixed targets, torchvision's train accuracy scores against each row's dominant label
    const scoredLabels = mixing && targets ? tf.argMax<tf.Tensor1D>(targets, 1) : y;
    let correct: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forwardWith(images, { training: true, collectStats, step: at.step });
      correct = tf.keep(countTopK(logits, scoredLabels, 1));
      return targets ? softCrossEntropy(logits, targets, recipe.labelSmoothing) : crossEntropyFromLogits(logits, y);
    }, params.map((p) => p.variable));
    if (!correct) throw new Error('microStep: the forward pass did not run');
    tf.keep(value);
    for (const g of Object.values(grads)) tf.keep(g);
    return { loss: value, correct, grads };
  });
}

/** Σ_i n_i·g_i / Σ_i n_i over the micro-batches: the gradient of the mean loss over all their examples. */
function weightedMean(parts: { grads: tf.NamedTensorMap; size: number }[]): tf.NamedTensorMap {
  const total = parts.reduce((s, p) => s + p.size, 0);
  return tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    const first = parts[0];
    if (!first) return out;
    for (const name of Object.keys(first.grads)) {
      const terms = parts.flatMap((p) => {
        const g = p.grads[name];
        return g ? [tf.mul(g, p.size / total)] : [];
      });
      out[name] = tf.keep(terms.length === 1 && terms[0] ? terms[0] : tf.addN(terms));
    }
    return out;
  });
}

/**
 * Mini-batch training over one shuffled pass of the training set per epoch. With `accumulate` N, a step is N
 * micro-batches of batchSize: each normalised on its own (BatchNorm statistics per micro-batch, as on N GPUs
 * with per-GPU BatchNorm), their gradients averaged by example count, then one optimizer step.
 */
export function sgdEngine(
  spec: RunSpec, model: TrainableModel, dataset: TrainingDataset, params: NamedParameter[], optimizer: GradientStep,
): StepEngine {
  const n = spec.accumulate;
  // the repeated-augmentation sampler (folder set) yields its own number of samples per epoch
  const samplesPerEpoch = spec.dataset === 'folder' ? folderEpochLength(dataset.trainSize, spec.raReps) : dataset.trainSize;
  const microPerEpoch = Math.ceil(samplesPerEpoch / spec.batchSize);
  const recipe: LossRecipe = {
    labelSmoothing: spec.labelSmoothing, mixupAlpha: spec.mixupAlpha, cutmixAlpha: spec.cutmixAlpha, numClasses: dataset.numClasses, seed: spec.seed,
  };
  return {
    stepsPerEpoch: Math.ceil(microPerEpoch / n),
    measuresTrainAccuracy: true,
    openEpoch(epoch, startStep) {
      let batchIndex = startStep * n;
      const iterator = dataset
        .batches('train', {
          batchSize: spec.batchSize, epoch, seed: spec.seed, shuffle: true,
          augment: spec.augment ?? true, dropLast: false, startBatch: batchIndex,
        })[Symbol.asyncIterator]();
      return {
        async next(lr, globalStep, collectStats) {
          let waitMs = 0;
          const parts: (MicroResult & { size: number })[] = [];
          try {
            for (let k = 0; k < n; k++) {
              const waitStart = performance.now();
              const next = await iterator.next();
              waitMs += performance.now() - waitStart;
              if (next.done) break;
              const batch = next.value;
              // KernelNorm dropout is seeded by the step; micro-batch k of step s gets s·N + k (s itself when N = 1)
              const at = { epoch, batchIndex, step: globalStep * n + k };
              parts.push({ ...microStep(model, params, batch, recipe, at, collectStats && k === 0), size: batch.size });
              batchIndex += 1;
            }
            if (parts.length === 0) return null;
            const only = parts.length === 1 ? parts[0] : undefined;
            // one micro-batch: its gradients as they are, so accumulate 1 is the plain step bit for bit
            const grads = only ? only.grads : weightedMean(parts);
            optimizer.step(grads, lr);
            if (!only) tf.dispose(Object.values(grads));
            const reads = await Promise.all(parts.flatMap((p) => [p.loss.data(), p.correct.data()]));
            let lossSum = 0;
            let correct = 0;
            let examples = 0;
            parts.forEach((p, i) => {
              lossSum += (reads[2 * i]?.[0] ?? NaN) * p.size;
              correct += reads[2 * i + 1]?.[0] ?? 0;
              examples += p.size;
            });
            return { loss: lossSum / examples, examples, correct, waitMs };
          } finally {
            for (const p of parts) tf.dispose([p.loss, p.correct, ...Object.values(p.grads)]);
          }
        },
        async close() {
          await iterator.return?.();
        },
      };
    },
  };
}
