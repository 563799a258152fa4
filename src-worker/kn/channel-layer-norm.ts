import * as tf from '@tensorflow/tfjs';
import type { StatsSink } from './options';

/**
 * torchvision's LayerNorm2d and ConvNeXt's channels-last nn.LayerNorm: each pixel's C values are normalised on
 * their own (biased variance), then scaled and shifted per channel. Not the reference ResNets' "LayerNorm",
 * which is GroupNorm with one group over C·H·W (norms.ts `layerNorm2d`).
 */
export function channelLayerNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  opts: { eps?: number; statsSink?: StatsSink } = {},
): tf.Tensor4D {
  const channels = x.shape[3];
  if (x.rank !== 4) throw new Error(`Error in channelLayerNorm: x must be rank 4 (NHWC), got shape [${x.shape}]`);
  if (gamma.shape[0] !== channels || beta.shape[0] !== channels) {
    throw new Error(`Error in channelLayerNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must have ${channels} values (the channels of x)`);
  }
  const eps = opts.eps ?? 1e-6;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 3, true);
    const std = tf.sqrt(tf.add(variance, eps));
    opts.statsSink?.('ln', mean, std);
    return tf.add<tf.Tensor4D>(tf.mul(tf.div(tf.sub(x, mean), std), gamma), beta);
  });
}
