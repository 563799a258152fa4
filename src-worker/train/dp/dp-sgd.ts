import * as tf from '@tensorflow/tfjs';
import type { KnMomentsProvider } from './layer-grads';
import { assertDpCompatible, tappedBackward, withLayerGrads, type DpModel } from './per-sample-grads';
import { poissonSample } from './poisson';
import { checkDelta, checkNoiseMultiplier, checkSampleRate, RdpAccountant } from './rdp-accountant';

/**
 * DP-SGD (Abadi et al. 2016): each example's gradient is clipped to L2 norm C over all parameters, the
 * clipped gradients are summed, Gaussian noise of std σ·C is added once per logical step, and the sum is
 * divided by the expected logical batch size q·N (not the drawn size, which would depend on the data).
 * The logical batch is Poisson-sampled and processed in physical micro-batches that fit in memory.
 */

export interface DpSgdOptions {
  noiseMultiplier: number;
  maxGradNorm: number;
  /** Poisson sampling rate q (expected logical batch / trainSize). */
  sampleRate: number;
  trainSize: number;
  /** Largest physical batch run through the model at once. */
  microBatchSize: number;
  /** δ at which `epsilon` is reported. */
  delta: number;
  /** Seeds batch sampling and noise; the same (seed, step) gives the same batch and noise. */
  seed: number;
  /** Steps already taken (a resumed run); the accountant is charged for them. */
  startStep?: number;
  /** KNConv window statistics when KN dropout is on (see layer-grads.ts). */
  knMoments?: KnMomentsProvider;
}

/** A batch of examples by index: Dataset.getBatch(split, indices, …) fits. */
export interface DpBatch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  shape: [number, number, number];
}
export type DpBatchSource = (indices: Int32Array) => Promise<DpBatch>;

export interface DpStepResult {
  /** Noised average gradient by variable name (what Sgd.step takes); the caller disposes it. */
  grads: tf.NamedTensorMap;
  /** Mean training loss over the drawn examples (NaN when none were drawn). */
  loss: number;
  /** Examples Poisson sampling drew for this step. */
  sampled: number;
  /** Share of drawn examples whose gradient norm exceeded maxGradNorm. */
  clippedFraction: number;
  /** This step's index (0-based). */
  step: number;
  /** ε spent after this step, at the configured δ. */
  epsilon: number;
}

/** Clip-factor floor as in Opacus: C / (‖g‖ + 1e-6), capped at 1. */
const NORM_EPS = 1e-6;

export class ClippedGradientSum {
  private readonly sums = new Map<string, tf.Tensor>();
  // summed on the device and read once per logical step (readTotals): a GPU backend has no synchronous reads,
  // and every read is a stall
  private lossSumT: tf.Scalar | null = null;
  private clippedT: tf.Scalar | null = null;
  examples = 0;

  constructor(private readonly model: DpModel, private readonly maxGradNorm: number, private readonly knMoments?: KnMomentsProvider) {}

  /** Adds Σ_i clip_C(∇ℓ_i) of one micro-batch to the running sums. */
  add(x: tf.Tensor4D, labels: tf.Tensor1D, forwardStep?: number): void {
    const tapped = tappedBackward(this.model, x, labels, forwardStep);
    try {
      const norms = tf.tidy(() =>
        tf.sqrt(tf.addN(tapped.layers.map((layer) => withLayerGrads(layer, this.knMoments, (g) => g.squaredNorms())))),
      );
      const factors = tf.tidy(() => tf.minimum<tf.Tensor1D>(tf.div(this.maxGradNorm, tf.add(norms, NORM_EPS)), 1));
      for (const layer of tapped.layers) {
        for (const { variable, grad } of withLayerGrads(layer, this.knMoments, (g) => g.weightedSum(factors))) {
          const prev = this.sums.get(variable.name);
          this.sums.set(variable.name, prev ? tf.tidy(() => tf.add(prev, grad)) : grad);
          if (prev) {
            prev.dispose();
            grad.dispose();
          }
        }
      }
      const clippedNow = tf.tidy(() => tf.sum<tf.Scalar>(tf.cast(tf.greater(norms, this.maxGradNorm), 'float32')));
      this.clippedT = accumulate(this.clippedT, clippedNow);
      this.lossSumT = accumulate(this.lossSumT, tf.clone<tf.Scalar>(tapped.lossSum));
      this.examples += x.shape[0];
      tf.dispose([norms, factors]);
    } finally {
      tapped.dispose();
    }
  }

  /** Σ loss and the number of clipped examples so far, in one read. */
  async readTotals(): Promise<{ lossSum: number; clipped: number }> {
    if (!this.lossSumT || !this.clippedT) return { lossSum: 0, clipped: 0 };
    const [loss, clipped] = await Promise.all([this.lossSumT.data(), this.clippedT.data()]);
    return { lossSum: loss[0], clipped: clipped[0] };
  }

  /** The sums so far by variable name; variables no example reached are zeros. Ownership passes to the caller. */
  take(variables: tf.Variable[]): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const v of variables) out.set(v.name, this.sums.get(v.name) ?? tf.zerosLike(v));
    this.sums.clear();
    return out;
  }

  dispose(): void {
    for (const t of this.sums.values()) t.dispose();
    this.sums.clear();
    tf.dispose([this.lossSumT, this.clippedT].filter((t): t is tf.Scalar => t !== null));
    this.lossSumT = this.clippedT = null;
  }
}

/** prev + next, disposing both; `next` is kept (the caller's tidy must not take it). */
function accumulate(prev: tf.Scalar | null, next: tf.Scalar): tf.Scalar {
  if (!prev) return next;
  const sum = tf.tidy(() => tf.add<tf.Scalar>(prev, next));
  tf.dispose([prev, next]);
  return sum;
}

function noiseSeed(seed: number, step: number, index: number): number {
  // distinct, reproducible streams per (run seed, step, variable)
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f);
  h ^= h >>> 15;
  return (h >>> 0) % 2147483647;
}

/**
 * (Σ clipped + N(0, (σC)²)) / (q·N) for each variable, keyed by variable name. Consumes `sums`.
 */
export function privatize(
  sums: Map<string, tf.Tensor>,
  opts: { noiseMultiplier: number; maxGradNorm: number; expectedBatchSize: number; seed: number; step: number },
): tf.NamedTensorMap {
  const std = opts.noiseMultiplier * opts.maxGradNorm;
  const out: tf.NamedTensorMap = {};
  let index = 0;
  for (const [name, sum] of sums) {
    const seed = noiseSeed(opts.seed, opts.step, index++);
    out[name] = tf.tidy(() => tf.div(tf.add(sum, tf.randomNormal(sum.shape, 0, std, 'float32', seed)), opts.expectedBatchSize));
    sum.dispose();
  }
  return out;
}

export interface DpSgdStepper {
  /** Draws the next logical batch, computes its private gradient and charges the accountant. */
  step(source: DpBatchSource): Promise<DpStepResult>;
  /** Steps taken so far (including startStep). */
  readonly stepsTaken: number;
  /** ε spent so far at the configured δ. */
  epsilon(): number;
  readonly accountant: RdpAccountant;
}

function checkOptions(o: DpSgdOptions): void {
  checkNoiseMultiplier(o.noiseMultiplier);
  checkSampleRate(o.sampleRate);
  checkDelta(o.delta);
  if (!(o.maxGradNorm > 0) || !Number.isFinite(o.maxGradNorm)) throw new RangeError(`DP-SGD: maxGradNorm must be a finite number > 0, got ${o.maxGradNorm}`);
  if (!Number.isInteger(o.trainSize) || o.trainSize <= 0) throw new RangeError(`DP-SGD: trainSize must be a positive integer, got ${o.trainSize}`);
  if (!Number.isInteger(o.microBatchSize) || o.microBatchSize <= 0) throw new RangeError(`DP-SGD: microBatchSize must be a positive integer, got ${o.microBatchSize}`);
}

/** Micro-batch forwards get distinct dropout steps; 2^16 micro-batches per logical step is far beyond use. */
const MICRO_BATCHES_PER_STEP = 65536;

export function createDpSgdStep(model: DpModel, opts: DpSgdOptions): DpSgdStepper {
  checkOptions(opts);
  assertDpCompatible(model);
  const accountant = new RdpAccountant();
  let stepsTaken = opts.startStep ?? 0;
  if (stepsTaken > 0) accountant.step(opts.noiseMultiplier, opts.sampleRate, stepsTaken);
  const expectedBatchSize = opts.sampleRate * opts.trainSize;

  return {
    get stepsTaken() {
      return stepsTaken;
    },
    accountant,
    epsilon: () => accountant.getPrivacySpent(opts.delta).epsilon,
    async step(source: DpBatchSource): Promise<DpStepResult> {
      const step = stepsTaken;
      const indices = poissonSample(opts.trainSize, opts.sampleRate, opts.seed, step);
      const acc = new ClippedGradientSum(model, opts.maxGradNorm, opts.knMoments);
      try {
        for (let start = 0, micro = 0; start < indices.length; start += opts.microBatchSize, micro++) {
          const batch = await source(indices.subarray(start, start + opts.microBatchSize));
          const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
          const y = tf.tensor1d(batch.y, 'int32');
          try {
            acc.add(x, y, step * MICRO_BATCHES_PER_STEP + micro);
          } finally {
            tf.dispose([x, y]);
          }
        }
        const grads = privatize(acc.take(model.trainableVariables()), {
          noiseMultiplier: opts.noiseMultiplier, maxGradNorm: opts.maxGradNorm, expectedBatchSize, seed: opts.seed, step,
        });
        accountant.step(opts.noiseMultiplier, opts.sampleRate);
        stepsTaken++;
        const totals = await acc.readTotals();
        return {
          grads,
          loss: acc.examples > 0 ? totals.lossSum / acc.examples : NaN,
          sampled: indices.length,
          clippedFraction: acc.examples > 0 ? totals.clipped / acc.examples : 0,
          step,
          epsilon: accountant.getPrivacySpent(opts.delta).epsilon,
        };
      } finally {
        acc.dispose();
      }
    },
  };
}
