import * as tf from '@tensorflow/tfjs';
import { windowMomentsBackward, windowMomentsForward } from './moments';
import type { KernelNormOptions, Pair, StatsSink } from './options';
import { resolveOptions } from './resolve-options';
import { assertRank, resolvePair, type WindowGeometry } from './validate';

export type { KernelNormOptions, Pair, Padding4, StatsSink } from './options';
export { knConv2d } from './kn-conv2d';

function reportStats(sink: StatsSink | undefined, mean: tf.Tensor4D, variance: tf.Tensor4D, eps: number): void {
  if (!sink) return;
  tf.tidy(() => sink('kn', mean, tf.sqrt(tf.add(variance, eps))));
}

/**
 * Window mean and variance of x (after dropout, when given a mask), differentiable w.r.t. x.
 * One customGrad op: autodiff through the pooled moments would materialize several input-sized gradients.
 */
function windowMoments(x: tf.Tensor4D, mask: tf.Tensor4D | null, g: WindowGeometry): { mean: tf.Tensor4D; variance: tf.Tensor4D } {
  const fused = tf.customGrad((input, save) => {
    const xIn = input as tf.Tensor4D;
    const dropped = mask ? tf.mul<tf.Tensor4D>(xIn, mask) : xIn;
    const m = windowMomentsForward(dropped, g);
    (save as tf.GradSaveFunc)(mask ? [dropped, m.shiftedMean, m.shift, mask] : [dropped, m.shiftedMean, m.shift]);
    return {
      // Concatenated along the batch axis: contiguous halves, which wasm copies far faster than channel slices;
      // 4-D, as every op here (tfjs-webgpu fails on some rank-5/6 shaders).
      value: tf.concat([m.mean, m.variance], 0),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dMean, dVar] = tf.split(dy, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
        const [dropped, shiftedMean, shift, savedMask] = saved as tf.Tensor4D[];
        return windowMomentsBackward(dMean, dVar, { dropped, shiftedMean, shift, mask: savedMask ?? null }, g);
      },
    };
  });
  const [mean, variance] = tf.split(fused(x), 2, 0) as [tf.Tensor4D, tf.Tensor4D];
  return { mean, variance };
}

/**
 * Mean and biased variance of every (kh, kw, all channels) window of the zero-padded input, [N,H',W',1],
 * taken over the input after dropout when `training` and `dropout` > 0.
 */
export function knWindowMoments(x: tf.Tensor4D, opts: KernelNormOptions & { kernelSize: Pair }): { mean: tf.Tensor4D; variance: tf.Tensor4D } {
  const op = 'knWindowMoments';
  assertRank(op, 'x', x, 4);
  const r = resolveOptions(op, x, resolvePair(op, 'kernelSize', opts.kernelSize, 1), opts);
  try {
    return tf.tidy(() => {
      const result = windowMoments(x, r.mask, r.geometry);
      reportStats(opts.statsSink, result.mean, result.variance, r.eps);
      return result;
    });
  } finally {
    r.mask?.dispose();
  }
}

/**
 * KernelNorm: each window of the zero-padded input, normalized by its own mean and variance, the windows laid
 * side by side: output [N, H'*kh, W'*kw, C]. Unlike the reference, which drops entries of the unfolded
 * tensor independently, the dropout mask here is per input entry and shared by overlapping windows (the same
 * as the reference's KNConv2d); that is what lets the statistics come from pooled pixel moments.
 */
export function kernelNorm2d(x: tf.Tensor4D, opts: KernelNormOptions = {}): tf.Tensor4D {
  const op = 'kernelNorm2d';
  assertRank(op, 'x', x, 4);
  const r = resolveOptions(op, x, resolvePair(op, 'kernelSize', opts.kernelSize, 1), opts);
  const g = r.geometry;
  try {
    return tf.tidy(() => {
      const { mean, variance } = windowMoments(x, r.mask, g);
      reportStats(opts.statsSink, mean, variance, r.eps);
      const [n, , , c] = x.shape;
      const [kh, kw] = g.kernel;
      const [sh, sw] = g.stride;
      const outH = g.outHeight;
      const outW = g.outWidth;
      // Every op here is at most 4-D: tfjs-webgpu's Pad shader (the gradient of slice) fails on rank 6.
      // tf.stridedSlice has no gradient in tfjs: take a slice of stride * out rows and columns and keep every
      // stride-th one through a reshape. The extra stride - 1 zero rows and columns make every such slice fit.
      const padded = tf.pad(x, [[0, 0], [g.padding[0], g.padding[1] + sh - 1], [g.padding[2], g.padding[3] + sw - 1], [0, 0]]);
      const rows: tf.Tensor[] = [];
      for (let i = 0; i < kh; i++) {
        const columns: tf.Tensor[] = [];
        for (let j = 0; j < kw; j++) {
          // Entry (i, j) of every window, [N*H', W', 1, C].
          const block = tf.slice(padded, [0, i, j, 0], [n, sh * outH, sw * outW, c]);
          const entry = sh === 1 && sw === 1 ? block
            : tf.slice(block.reshape([n * outH, sh, outW, sw * c]), [0, 0, 0, 0], [n * outH, 1, outW, c]);
          columns.push(entry.reshape([n * outH, outW, 1, c]));
        }
        // [N*H', W', kw, C]: row i of every window, in (q, j, c) order.
        const row = kw === 1 ? columns[0] : tf.concat(columns, 2);
        rows.push(row.reshape([n * outH, 1, outW, kw * c]));
      }
      // [N*H', kh, W', kw*C]: in memory the same as the output, [N, H'*kh, W'*kw, C].
      const windows = kh === 1 ? rows[0] : tf.concat(rows, 1);
      const statShape = [n * outH, 1, outW, 1];
      const normalized = tf.mul(tf.sub(windows, mean.reshape(statShape)), tf.rsqrt(tf.add(variance, r.eps)).reshape(statShape));
      return normalized.reshape<tf.Tensor4D>([n, outH * kh, outW * kw, c]);
    });
  } finally {
    r.mask?.dispose();
  }
}

/** KernelNorm with a 1x1 window: every pixel normalized over its channels. */
export function kernelNorm2d1x1(x: tf.Tensor4D, opts: Omit<KernelNormOptions, 'kernelSize' | 'stride' | 'padding'> = {}): tf.Tensor4D {
  const op = 'kernelNorm2d1x1';
  assertRank(op, 'x', x, 4);
  const r = resolveOptions(op, x, [1, 1], { ...opts, kernelSize: 1, stride: 1, padding: 0 });
  try {
    return tf.tidy(() => {
      const { mean, variance } = windowMoments(x, r.mask, r.geometry);
      reportStats(opts.statsSink, mean, variance, r.eps);
      return tf.mul<tf.Tensor4D>(tf.sub(x, mean), tf.rsqrt(tf.add(variance, r.eps)));
    });
  } finally {
    r.mask?.dispose();
  }
}
