import * as tf from '@tensorflow/tfjs';
import { dropoutMask } from './dropout';
import { explicitPadding, windowMomentsBackward, windowMomentsForward } from './moments';
import { DEFAULT_EPS, type KernelNormOptions, type Pair, type StatsSink } from './options';
import {
  assertPerChannel, assertRank, fail, resolveDropout, resolveEps, resolveGeometry, resolvePadding, resolvePair,
  resolveSeed, type WindowGeometry,
} from './validate';

export type { KernelNormOptions, Pair, Padding4, StatsSink } from './options';

interface Resolved {
  geometry: WindowGeometry;
  eps: number;
  /** Scaled dropout mask for this call, or null when no dropout applies. Owned by the caller. */
  mask: tf.Tensor4D | null;
}

function resolveOptions(op: string, x: tf.Tensor4D, kernel: [number, number], opts: KernelNormOptions): Resolved {
  const stride = resolvePair(op, 'stride', opts.stride, 1);
  const geometry = resolveGeometry(op, x.shape, kernel, stride, resolvePadding(op, opts.padding));
  const eps = resolveEps(op, opts.eps, DEFAULT_EPS);
  const rate = resolveDropout(op, opts.dropout);
  const seed = resolveSeed(op, opts.seed);
  // The reference calls F.dropout with its default training=True, so it also drops at evaluation time.
  // We drop only while training: evaluation should be deterministic and use all of the input.
  const mask = opts.training === true && rate > 0 ? (dropoutMask(x.shape, rate, seed) as tf.Tensor4D) : null;
  return { geometry, eps, mask };
}

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
    const dropped = (mask ? tf.mul(xIn, mask) : xIn) as tf.Tensor4D;
    const m = windowMomentsForward(dropped, g);
    (save as tf.GradSaveFunc)(mask ? [dropped, m.shiftedMean, m.shift, mask] : [dropped, m.shiftedMean, m.shift]);
    return {
      value: tf.concat([m.mean, m.variance], 3),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dMean, dVar] = tf.split(dy, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
        const [dropped, shiftedMean, shift, savedMask] = saved as tf.Tensor4D[];
        return windowMomentsBackward(dMean, dVar, { dropped, shiftedMean, shift, mask: savedMask ?? null }, g);
      },
    };
  });
  const [mean, variance] = tf.split(fused(x), 2, 3) as [tf.Tensor4D, tf.Tensor4D];
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
      const [sh, sw] = g.stride;
      // tf.stridedSlice has no gradient in tfjs: take a slice of stride * out rows and columns and keep every
      // stride-th one through a reshape. The extra stride - 1 zero rows and columns make every such slice fit.
      const padded = tf.pad(x, [[0, 0], [g.padding[0], g.padding[1] + sh - 1], [g.padding[2], g.padding[3] + sw - 1], [0, 0]]);
      const rows: tf.Tensor[] = [];
      for (let i = 0; i < g.kernel[0]; i++) {
        const columns: tf.Tensor[] = [];
        for (let j = 0; j < g.kernel[1]; j++) {
          // Entry (i, j) of every window, [N,H',W',C].
          const block = tf.slice(padded, [0, i, j, 0], [n, sh * g.outHeight, sw * g.outWidth, c]);
          const entry = sh === 1 && sw === 1 ? block
            : tf.slice(block.reshape([n, g.outHeight, sh, g.outWidth, sw, c]), [0, 0, 0, 0, 0, 0], [n, g.outHeight, 1, g.outWidth, 1, c]);
          columns.push(entry.reshape([n, g.outHeight, g.outWidth, c]));
        }
        rows.push(tf.stack(columns, 3)); // [N,H',W',kw,C]
      }
      const windows = tf.stack(rows, 2); // [N,H',kh,W',kw,C]
      const statShape = [n, g.outHeight, 1, g.outWidth, 1, 1];
      const normalized = tf.mul(tf.sub(windows, mean.reshape(statShape)), tf.rsqrt(tf.add(variance, r.eps)).reshape(statShape));
      return normalized.reshape([n, g.outHeight * g.kernel[0], g.outWidth * g.kernel[1], c]) as tf.Tensor4D;
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
      return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, r.eps))) as tf.Tensor4D;
    });
  } finally {
    r.mask?.dispose();
  }
}

type ConvPad = 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Sum over the last axis of a * b, per row of [rows, k] views: [rows, 1]. */
function rowDots(a: tf.Tensor, b: tf.Tensor, rows: number, k: number): tf.Tensor2D {
  return tf.sum(tf.mul(a.reshape([rows, k]), b.reshape([rows, k])), 1, true);
}

/**
 * KNConv2d: a convolution whose every window is normalized by the window's own mean and variance:
 * out = (conv(x, W) - mu * sum(W)) / sqrt(var + eps) + b, with mu and var over (kh, kw, C) of the zero-padded
 * input after dropout, while the convolution sees the input without dropout (as in the reference).
 *
 * One customGrad op. Forward costs, beyond the convolution, three passes over the output (scale, the rank-1
 * correction -mu*s ⊗ sum(W) + b as one fused matmul, and their sum) and three over the input (moments).
 * The backward pass saves the output instead of conv(x, W): ∂out/∂s = (out - b)/s.
 */
export function knConv2d(
  x: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D | null, opts: Omit<KernelNormOptions, 'kernelSize'> = {},
): tf.Tensor4D {
  const op = 'knConv2d';
  assertRank(op, 'x', x, 4);
  assertRank(op, 'filter', weight, 4);
  if (x.shape[3] !== weight.shape[2]) {
    fail(op, `depth of input (${x.shape[3]}) must match input depth for filter ${weight.shape[2]}.`);
  }
  const outChannels = weight.shape[3];
  if (bias !== null) assertPerChannel(op, 'bias', bias, outChannels, "the filter's output depth");
  if ((opts as KernelNormOptions).kernelSize !== undefined) fail(op, 'kernelSize comes from the filter; do not pass it.');
  const r = resolveOptions(op, x, [weight.shape[0], weight.shape[1]], opts);
  const g = r.geometry;
  const eps = r.eps;
  const pad: ConvPad = g.padding.some((p) => p > 0) ? explicitPadding(g) : 'valid';
  const [n, , , c] = x.shape;
  const rows = n * g.outHeight * g.outWidth;
  const outShape: [number, number, number, number] = [n, g.outHeight, g.outWidth, outChannels];
  const mask = r.mask;

  const forward = (xIn: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D | null, save: tf.GradSaveFunc) => {
    const conv = tf.conv2d(xIn, w, g.stride, pad);
    const dropped = (mask ? tf.mul(xIn, mask) : xIn) as tf.Tensor4D;
    const m = windowMomentsForward(dropped, g);
    const scale = tf.rsqrt(tf.add(m.variance, eps)); // s = 1/sqrt(var + eps), [N,H',W',1]
    const sumW = tf.sum(w, [0, 1, 2]).reshape([1, outChannels]);
    const minusMeanScale = tf.neg(tf.mul(m.mean, scale)).reshape([rows, 1]);
    const correction = tf.fused.matMul({ a: minusMeanScale, b: sumW, bias: b ?? undefined }).reshape(outShape);
    const y = tf.add(tf.mul(conv, scale), correction) as tf.Tensor4D;
    if (opts.statsSink) opts.statsSink('kn', m.mean, tf.sqrt(tf.add(m.variance, eps)));
    save([xIn, w, y, dropped, m.mean, m.shiftedMean, m.shift, scale, ...(b ? [b] : []), ...(mask ? [mask] : [])]);
    return y;
  };

  const backward = (dy: tf.Tensor4D, saved: tf.Tensor[]): tf.Tensor[] => {
    const [xIn, w, y, dropped, mean, shiftedMean, shift, scale, ...rest] = saved as tf.Tensor4D[];
    const b = bias ? (rest[0] as tf.Tensor as tf.Tensor1D) : null;
    const savedMask = mask ? rest[rest.length - 1] : null;
    const dyRows = dy.reshape([rows, outChannels]);
    // Per window: dy·sum(W) and dy·b in one matmul, dy·y in one product-and-sum.
    const sumW = tf.sum(w, [0, 1, 2]);
    const coefficients = b ? tf.stack([sumW, b], 1) : sumW.reshape([outChannels, 1]);
    const dyDots = tf.matMul(dyRows, coefficients);
    const dyDotSumW = tf.slice(dyDots, [0, 0], [rows, 1]);
    const dyDotBias = b ? tf.slice(dyDots, [0, 1], [rows, 1]) : tf.zeros([rows, 1]);
    const dyDotY = rowDots(dy, y, rows, outChannels);
    const s = scale.reshape([rows, 1]);
    // y = s (conv - mean sumW) + b: ∂y/∂s = (y - b)/s and ∂y/∂mean = -s sumW.
    const dScale = tf.div(tf.sub(dyDotY, dyDotBias), s);
    const dMean = tf.neg(tf.mul(s, dyDotSumW)).reshape(scale.shape) as tf.Tensor4D;
    const dVar = tf.mul(tf.mul(dScale, tf.pow(s, 3)), -0.5).reshape(scale.shape) as tf.Tensor4D;
    const dConv = tf.mul(dy, scale);
    const dxConv = tf.engine().runKernel('Conv2DBackpropInput', { dy: dConv, filter: w },
      { strides: g.stride, pad, dataFormat: 'NHWC', inputShape: xIn.shape }) as tf.Tensor4D;
    const dxMoments = windowMomentsBackward(dMean, dVar, { dropped, shiftedMean, shift, mask: savedMask as tf.Tensor4D | null }, g);
    const dx = tf.add(dxConv, dxMoments);
    const dwConv = tf.engine().runKernel('Conv2DBackpropFilter', { x: xIn, dy: dConv },
      { strides: g.stride, pad, dataFormat: 'NHWC', filterShape: w.shape }) as tf.Tensor4D;
    // d sum(W) and d b together: [-mean s, 1]^T dy.
    // Built as [2, rows] directly: a transposed [rows, 2] operand cost wasm a full transpose of it.
    const weightsOfRows = tf.concat([tf.neg(tf.mul(mean, scale)).reshape([1, rows]), tf.ones([1, rows])], 0);
    const dSumWAndBias = tf.matMul(weightsOfRows, dyRows);
    const dSumW = tf.slice(dSumWAndBias, [0, 0], [1, outChannels]).reshape([1, 1, 1, outChannels]);
    const dw = tf.add(dwConv, dSumW);
    if (!b) return [dx, dw];
    return [dx, dw, tf.slice(dSumWAndBias, [1, 0], [1, outChannels]).reshape([outChannels])];
  };

  const fused = bias
    ? tf.customGrad((xIn, w, b, save) => {
      const value = forward(xIn as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, save as tf.GradSaveFunc);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy as tf.Tensor4D, saved) };
    })
    : tf.customGrad((xIn, w, save) => {
      const value = forward(xIn as tf.Tensor4D, w as tf.Tensor4D, null, save as tf.GradSaveFunc);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy as tf.Tensor4D, saved) };
    });
  try {
    return (bias ? fused(x, weight, bias) : fused(x, weight)) as tf.Tensor4D;
  } finally {
    mask?.dispose();
  }
}
