import * as tf from '@tensorflow/tfjs';
import { DEFAULT_EPS, type StatsSink } from './options';
import { assertPerChannel, assertRank, fail, resolveEps } from './validate';

export interface BatchNormOptions {
  training: boolean;
  /** Weight of the new batch statistic in the running average (PyTorch semantics). Default 0.1. */
  momentum?: number;
  eps?: number;
  statsSink?: StatsSink;
}

export interface RunningStats {
  mean: tf.Variable;
  variance: tf.Variable;
}

function assertAffine(op: string, x: tf.Tensor4D, gamma: unknown, beta: unknown): void {
  assertPerChannel(op, 'gamma', gamma, x.shape[3], 'the depth of the input');
  assertPerChannel(op, 'beta', beta, x.shape[3], 'the depth of the input');
}

/** Column means of a [rows, C] matrix as a matrix product: several times faster on wasm than tf.mean(x, 0). */
function columnMeans(rowsByChannel: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.fill([1, rowsByChannel.shape[0]], 1 / rowsByChannel.shape[0]), rowsByChannel);
}

/**
 * Training-mode BatchNorm as one customGrad op: the forward pass is two column-mean products and the
 * backend's fused batchNorm; the backward pass the textbook formula, avoiding autodiff's slow broadcast sums.
 */
function batchNormTraining(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number):
  { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const [n, h, w, c] = x.shape;
  const rows = n * h * w;
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const op = tf.customGrad((xIn, g, b, save) => {
    const x2d = (xIn as tf.Tensor4D).reshape<tf.Tensor2D>([rows, c]);
    const mean = columnMeans(x2d).reshape<tf.Tensor1D>([c]);
    const variance = columnMeans(tf.squaredDifference<tf.Tensor2D>(x2d, mean)).reshape<tf.Tensor1D>([c]);
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    const y = tf.batchNorm(xIn as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, eps);
    (save as tf.GradSaveFunc)([xIn as tf.Tensor, g as tf.Tensor, mean, tf.rsqrt(tf.add(variance, eps))]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ms, rs] = saved;
        const dy2d = dy.reshape<tf.Tensor2D>([rows, c]);
        const normalized = tf.mul<tf.Tensor2D>(tf.sub(xs.reshape([rows, c]), ms), rs);
        const dBeta = columnMeans(dy2d);           // mean of dy, [1, C]
        const dGamma = columnMeans(tf.mul(dy2d, normalized)); // mean of dy * x̂
        // dx = gamma r (dy - mean(dy) - x̂ mean(dy x̂))
        const dx = tf.mul(tf.sub(tf.sub(dy2d, dBeta), tf.mul(normalized, dGamma)), tf.mul(gs, rs)).reshape(x.shape);
        return [dx, tf.mul(dGamma, rows).reshape([c]), tf.mul(dBeta, rows).reshape([c])];
      },
    };
  });
  const y = op(x, gamma, beta);
  const kept = stats as unknown as { mean: tf.Tensor1D; variance: tf.Tensor1D };
  return { y, ...kept };
}

/**
 * BatchNorm over (N, H, W) with per-channel affine gamma, beta. Training: normalizes by the batch mean and
 * biased variance and moves the running statistics toward the batch mean and unbiased variance by `momentum`,
 * as PyTorch does. Evaluation: normalizes by the running statistics.
 */
export function batchNorm2d(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, running: RunningStats, opts: BatchNormOptions): tf.Tensor4D {
  const op = 'batchNorm2d';
  assertRank(op, 'x', x, 4);
  assertAffine(op, x, gamma, beta);
  assertPerChannel(op, 'running.mean', running?.mean, x.shape[3], 'the depth of the input');
  assertPerChannel(op, 'running.variance', running?.variance, x.shape[3], 'the depth of the input');
  const eps = resolveEps(op, opts.eps, DEFAULT_EPS);
  const momentum = opts.momentum ?? 0.1;
  if (!(momentum >= 0 && momentum <= 1)) fail(op, `momentum must be in [0, 1], but got ${opts.momentum}.`);
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  if (!opts.training) {
    return tf.tidy(() => {
      if (opts.statsSink) opts.statsSink('bn', running.mean, tf.sqrt(tf.add(running.variance, eps)));
      return tf.batchNorm(x, running.mean, running.variance, beta, gamma, eps) as tf.Tensor4D;
    });
  }
  if (count < 2) fail(op, `training needs more than one value per channel, but the input has shape [${x.shape.join(',')}].`);
  const { y, mean, variance } = batchNormTraining(x, gamma, beta, eps);
  tf.tidy(() => {
    if (opts.statsSink) opts.statsSink('bn', mean, tf.sqrt(tf.add(variance, eps)));
    running.mean.assign(tf.add(tf.mul(running.mean, 1 - momentum), tf.mul(mean, momentum)));
    running.variance.assign(tf.add(tf.mul(running.variance, 1 - momentum), tf.mul(variance, momentum * count / (count - 1))));
  });
  mean.dispose();
  variance.dispose();
  return y;
}

export interface GroupNormOptions {
  eps?: number;
  statsSink?: StatsSink;
}

function groupNormWith(op: string, kind: 'gn' | 'ln', x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, opts: GroupNormOptions): tf.Tensor4D {
  assertRank(op, 'x', x, 4);
  assertAffine(op, x, gamma, beta);
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    fail(op, `groups must be a positive integer dividing the depth of the input (${c}), but got ${groups}.`);
  }
  const eps = resolveEps(op, opts.eps, DEFAULT_EPS);
  return tf.tidy(() => {
    const grouped = x.reshape([n, h * w, groups, c / groups]);
    // tf.moments subtracts the mean before squaring: no cancellation for inputs with an offset.
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const normalized = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, eps))).reshape(x.shape);
    if (opts.statsSink) opts.statsSink(kind, mean.reshape([n, groups]), tf.sqrt(tf.add(variance, eps)).reshape([n, groups]));
    return tf.add<tf.Tensor4D>(tf.mul(normalized, gamma), beta);
  });
}

/** GroupNorm: per sample, over (H, W) and each group of C/groups consecutive channels; per-channel affine. */
export function groupNorm2d(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, opts: GroupNormOptions = {}): tf.Tensor4D {
  return groupNormWith('groupNorm2d', 'gn', x, gamma, beta, groups, opts);
}

/** LayerNorm as the reference builds it: GroupNorm with one group (per sample over H, W, C), per-channel affine. */
export function layerNorm2d(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, opts: GroupNormOptions = {}): tf.Tensor4D {
  return groupNormWith('layerNorm2d', 'ln', x, gamma, beta, 1, opts);
}
