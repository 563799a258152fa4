import * as tf from '@tensorflow/tfjs';
import { IGNORE_LABEL } from './confusion';

/**
 * torch.nn.CrossEntropyLoss(ignore_index=255) over pixels: the mean of −log softmax(logits)[label] over the
 * pixels whose label is not ignored (0 when every pixel is ignored, rather than NaN).
 */
export function pixelCrossEntropy(logits: tf.Tensor4D, labels: tf.Tensor3D, ignoreLabel = IGNORE_LABEL): tf.Scalar {
  const [n, h, w, classes] = logits.shape;
  if (labels.rank !== 3 || labels.shape[0] !== n || labels.shape[1] !== h || labels.shape[2] !== w) {
    throw new Error(`Error in pixelCrossEntropy: labels must be [${n}, ${h}, ${w}] to match logits [${logits.shape}], got [${labels.shape}]`);
  }
  return tf.tidy(() => {
    const y = tf.cast(labels, 'int32');
    const valid = tf.notEqual(y, ignoreLabel);
    const safe = tf.where(valid, y, tf.zerosLike(y));
    const picked = tf.sum(tf.mul(tf.oneHot(safe, classes), tf.logSoftmax(logits, -1)), -1);
    const weights = tf.cast(valid, 'float32');
    return tf.div<tf.Scalar>(tf.neg(tf.sum(tf.mul(picked, weights))), tf.maximum(tf.sum(weights), 1));
  });
}

/** The most likely class of every pixel, [N, H, W] int32. */
export function pixelPredictions(logits: tf.Tensor4D): tf.Tensor3D {
  return tf.argMax<tf.Tensor3D>(logits, -1);
}
