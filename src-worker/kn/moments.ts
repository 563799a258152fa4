import * as tf from '@tensorflow/tfjs';
import type { WindowGeometry } from './validate';

/**
 * Window statistics without unfolding: the mean and E[x^2] of a window over (kh, kw, all channels) are
 * averages of per-pixel channel moments, so one pass over the input gives [N,H,W,2] pixel moments and an
 * average pool over the zero-padded pixel moments gives every window's moments.
 *
 * var = E[x^2] - mean^2 cancels catastrophically in float32 when |mean| >> std (inputs with an offset), so
 * the moments are taken of x - K with K the per-sample mean: variance does not depend on K, and the padded
 * zeros become -K. The unshifted form loses everything at offset 1e3 (ulp(1e6) = 0.06).
 */
export interface WindowMoments {
  mean: tf.Tensor4D;
  /** Biased variance, clamped at 0 against rounding. */
  variance: tf.Tensor4D;
  /** mean - shift; what the backward pass needs. */
  shiftedMean: tf.Tensor4D;
  /** Per-sample shift K, [N,1,1,1]. */
  shift: tf.Tensor4D;
}

/** Mean over the last axis as a matrix product: on wasm this is several times faster than tf.mean(x, -1). */
export function channelMean(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.matMul(x.reshape([n * h * w, c]), tf.fill([c, 1], 1 / c)).reshape([n, h, w, 1]);
}

const hasPadding = (g: WindowGeometry): boolean => g.padding.some((p) => p > 0);
const isPointwise = (g: WindowGeometry): boolean =>
  g.kernel[0] === 1 && g.kernel[1] === 1 && g.stride[0] === 1 && g.stride[1] === 1 && !hasPadding(g);

function explicitPadding(g: WindowGeometry): [[number, number], [number, number], [number, number], [number, number]] {
  return [[0, 0], [g.padding[0], g.padding[1]], [g.padding[2], g.padding[3]], [0, 0]];
}

/** Moments of `dropped` (the input the statistics see: x, or x after dropout). Caller tidies. */
export function windowMomentsForward(dropped: tf.Tensor4D, g: WindowGeometry): WindowMoments {
  const m1 = channelMean(dropped);
  const shift = tf.mean<tf.Tensor4D>(m1, [1, 2], true);
  const pixelMean = tf.sub<tf.Tensor4D>(m1, shift);
  const pixelSquare = channelMean(tf.squaredDifference<tf.Tensor4D>(dropped, shift));
  // Two [N,H,W,1] maps pooled apart: on wasm, concatenating and splitting them along the channel axis cost
  // more than the pooling itself.
  const pool = (pixel: tf.Tensor4D, padValue: tf.Tensor4D): tf.Tensor4D => {
    let padded = pixel;
    if (hasPadding(g)) {
      // Padded pixels are zeros, i.e. -K after the shift: fill them with -K (means) or K^2 (squares).
      const outside = tf.sub(1, tf.pad(tf.ones([1, g.inHeight, g.inWidth, 1]), explicitPadding(g)));
      padded = tf.add<tf.Tensor4D>(tf.pad(pixel, explicitPadding(g)), tf.mul(outside, padValue));
    }
    return isPointwise(g) ? padded : tf.avgPool(padded, g.kernel, g.stride, 'valid');
  };
  const shiftedMean = pool(pixelMean, tf.neg<tf.Tensor4D>(shift));
  const meanSquare = pool(pixelSquare, tf.square(shift));
  const variance = tf.relu(tf.sub(meanSquare, tf.square(shiftedMean))) as tf.Tensor4D;
  return { mean: tf.add(shiftedMean, shift), variance, shiftedMean, shift };
}

/**
 * Gradient of (mean, variance) w.r.t. the input x, given dL/dmean and dL/dvar ([N,H',W',1]).
 * `mask` is the scaled dropout mask (dropped = x * mask) or null; it gets no gradient.
 */
export function windowMomentsBackward(
  dMean: tf.Tensor4D, dVar: tf.Tensor4D,
  saved: { dropped: tf.Tensor4D; shiftedMean: tf.Tensor4D; shift: tf.Tensor4D; mask: tf.Tensor4D | null },
  g: WindowGeometry,
): tf.Tensor4D {
  const [n, , , c] = saved.dropped.shape;
  const unpool = (dPooled: tf.Tensor4D): tf.Tensor4D => {
    if (isPointwise(g)) return dPooled;
    const paddedLike = tf.zeros([n, g.inHeight + g.padding[0] + g.padding[1], g.inWidth + g.padding[2] + g.padding[3], 1]);
    const dPadded = tf.engine().runKernel<tf.Tensor4D>('AvgPoolGrad', { dy: dPooled, input: paddedLike },
      { filterSize: g.kernel, strides: g.stride, pad: 'valid' });
    return hasPadding(g) ? tf.slice(dPadded, [0, g.padding[0], g.padding[2], 0], [n, g.inHeight, g.inWidth, 1]) : dPadded;
  };
  // var = E[(x-K)^2] - (mean-K)^2, so the shifted-mean path carries dMean - 2 (mean-K) dVar.
  const dPixelMean = unpool(tf.sub(dMean, tf.mul(tf.mul(saved.shiftedMean, dVar), 2)));
  const dPixelSquare = unpool(dVar);
  // d/dx of mean_c(x) is 1/C; of mean_c((x-K)^2) is 2(x-K)/C. Folded so the full-size work is x*a + b.
  const slope = tf.mul(dPixelSquare, 2 / c);
  const offset = tf.mul(tf.sub(dPixelMean, tf.mul(tf.mul(saved.shift, dPixelSquare), 2)), 1 / c);
  const dDropped = tf.add<tf.Tensor4D>(tf.mul(saved.dropped, slope), offset);
  return saved.mask ? tf.mul(dDropped, saved.mask) : dDropped;
}

export { explicitPadding, isPointwise };
