import * as tf from '@tensorflow/tfjs';
import { assertTensor } from './validate';

export function relu<T extends tf.Tensor>(x: T): T {
  assertTensor('relu', 'x', x);
  return tf.relu(x);
}

/**
 * Mish, x * tanh(softplus(x)), as one customGrad op: its derivative t + x (1 - t^2) sigmoid(x) reuses
 * t = tanh(softplus(x)) from the forward pass. Safe for large |x|: softplus is thresholded by the backends
 * (softplus(x) = x for large x, exp(x) for very negative x), tanh saturates to ±1 and sigmoid to 0 or 1,
 * so no inf - inf or 0 * inf appears for any finite x.
 */
export function mish<T extends tf.Tensor>(x: T): T {
  assertTensor('mish', 'x', x);
  const op = tf.customGrad((input, save) => {
    const xIn = input as tf.Tensor;
    const t = tf.tanh(tf.softplus(xIn));
    (save as tf.GradSaveFunc)([xIn, t]);
    return {
      value: tf.mul(xIn, t),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ts] = saved;
        return tf.mul(dy, tf.add(ts, tf.mul(tf.mul(xs, tf.sub(1, tf.square(ts))), tf.sigmoid(xs))));
      },
    };
  });
  return op(x) as T;
}
