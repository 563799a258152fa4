import * as tf from '@tensorflow/tfjs';

/** One-hot rows for integer labels: the targets mixup and cutmix blend. */
export function oneHotTargets(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.cast(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D);
}

/**
 * torch.nn.CrossEntropyLoss(label_smoothing=ε) with probability targets: the targets become
 * t·(1 − ε) + ε/K, and the loss is the batch mean of −Σ_k t_k · log softmax(z)_k.
 */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D, labelSmoothing = 0): tf.Scalar {
  if (logits.rank !== 2 || targets.rank !== 2 || logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    throw new Error(`Error in softCrossEntropy: logits [${logits.shape}] and targets [${targets.shape}] must both be [batch, classes]`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`Error in softCrossEntropy: label smoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  const classes = logits.shape[1];
  return tf.tidy(() => {
    const smoothed = labelSmoothing === 0 ? targets : tf.add(tf.mul(targets, 1 - labelSmoothing), labelSmoothing / classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(smoothed, tf.logSoftmax(logits, 1)), 1))) as tf.Scalar;
  });
}
