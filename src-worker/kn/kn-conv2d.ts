import * as tf from '@tensorflow/tfjs';
import { explicitPadding, windowMomentsBackward, windowMomentsForward } from './moments';
import type { KernelNormOptions } from './options';
import { resolveOptions } from './resolve-options';
import { assertPerChannel, assertRank, fail } from './validate';

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
  const n = x.shape[0];
  const rows = n * g.outHeight * g.outWidth;
  const outShape: [number, number, number, number] = [n, g.outHeight, g.outWidth, outChannels];
  const mask = r.mask;

  const forward = (xIn: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D | null, save: tf.GradSaveFunc) => {
    const conv = tf.conv2d(xIn, w, g.stride, pad);
    const dropped = mask ? tf.mul<tf.Tensor4D>(xIn, mask) : xIn;
    const m = windowMomentsForward(dropped, g);
    const scale = tf.rsqrt(tf.add(m.variance, eps)); // s = 1/sqrt(var + eps), [N,H',W',1]
    const sumW = tf.sum(w, [0, 1, 2]).reshape([1, outChannels]); // saved: wasm reduces leading axes by transposing
    const minusMeanScale = tf.neg(tf.mul(m.mean, scale)).reshape([rows, 1]);
    const correction = tf.fused.matMul({ a: minusMeanScale, b: sumW, bias: b ?? undefined }).reshape(outShape);
    const y = tf.add<tf.Tensor4D>(tf.mul(conv, scale), correction);
    if (opts.statsSink) opts.statsSink('kn', m.mean, tf.sqrt(tf.add(m.variance, eps)));
    save([xIn, w, y, dropped, m.mean, m.shiftedMean, m.shift, scale, sumW, ...(b ? [b] : []), ...(mask ? [mask] : [])]);
    return y;
  };

  const backward = (dy: tf.Tensor4D, saved: tf.Tensor[]): tf.Tensor[] => {
    const [xIn, w, y, dropped, mean, shiftedMean, shift, scale, sumW, ...rest] = saved as tf.Tensor4D[];
    const b = bias ? (rest[0] as tf.Tensor as tf.Tensor1D) : null;
    const savedMask = mask ? rest[rest.length - 1] : null;
    const dyRows = dy.reshape([rows, outChannels]);
    // Per window: dy·sum(W), dy·b (as matmuls; slicing a [rows, 2] result was slower on wasm than two), dy·y.
    const dyDotSumW = tf.matMul(dyRows, sumW.reshape([outChannels, 1]));
    const dyDotBias = b ? tf.matMul(dyRows, b.reshape([outChannels, 1])) : tf.zeros([rows, 1]);
    const dyDotY = rowDots(dy, y, rows, outChannels);
    const s = scale.reshape([rows, 1]);
    // y = s (conv - mean sumW) + b: ∂y/∂s = (y - b)/s and ∂y/∂mean = -s sumW.
    const dScale = tf.div(tf.sub(dyDotY, dyDotBias), s);
    const dMean = tf.neg(tf.mul(s, dyDotSumW)).reshape<tf.Tensor4D>(scale.shape);
    const dVar = tf.mul(tf.mul(dScale, tf.pow(s, 3)), -0.5).reshape<tf.Tensor4D>(scale.shape);
    const dConv = tf.mul(dy, scale);
    const dxConv = tf.engine().runKernel<tf.Tensor4D>('Conv2DBackpropInput', { dy: dConv, filter: w },
      { strides: g.stride, pad, dataFormat: 'NHWC', inputShape: xIn.shape });
    const dxMoments = windowMomentsBackward(dMean, dVar, { dropped, shiftedMean, shift, mask: savedMask }, g);
    const dx = tf.add(dxConv, dxMoments);
    const dwConv = tf.engine().runKernel<tf.Tensor4D>('Conv2DBackpropFilter', { x: xIn, dy: dConv },
      { strides: g.stride, pad, dataFormat: 'NHWC', filterShape: w.shape });
    // d sum(W) and d b together: dy^T [-mean s, 1], [C, 2]. dy must be the left operand: as the right one,
    // XNNPACK repacks all of it as GEMM weights on every call (60-130 ms for a [34848, 256] dy, against
    // 18 ms for transposing it). The [2, rows] weights, transposed, are the small packed operand.
    const weightsOfRows = tf.concat([tf.neg(tf.mul(mean, scale)).reshape([1, rows]), tf.ones([1, rows])], 0);
    const dSumWAndBias = tf.matMul(dyRows, weightsOfRows, true, true);
    const dSumW = tf.slice(dSumWAndBias, [0, 0], [outChannels, 1]).reshape([1, 1, 1, outChannels]);
    const dw = tf.add(dwConv, dSumW);
    if (!b) return [dx, dw];
    return [dx, dw, tf.slice(dSumWAndBias, [0, 1], [outChannels, 1]).reshape([outChannels])];
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
    return bias ? fused(x, weight, bias) : fused(x, weight);
  } finally {
    mask?.dispose();
  }
}
