import * as tf from '@tensorflow/tfjs';

function checkShapes(op: string, logits: tf.Tensor2D, labels: tf.Tensor1D): void {
  if (logits.rank !== 2) throw new Error(`Error in ${op}: logits must be rank 2 [batch, classes], got shape [${logits.shape}]`);
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`Error in ${op}: labels must be [${logits.shape[0]}], got shape [${labels.shape}]`);
  }
}

/**
 * Mean cross-entropy of integer labels under softmax(logits), like torch.nn.CrossEntropyLoss. Computed
 * through logSoftmax (which subtracts the row maximum), so large logits do not overflow.
 */
export function crossEntropyFromLogits(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  checkShapes('crossEntropyFromLogits', logits, labels);
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits, 1);
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbs), 1))) as tf.Scalar;
  });
}

/**
 * How many rows have their label among the k largest logits (int32 scalar). k is capped at the number of
 * classes, so top-5 on a 2-class problem counts every row.
 */
export function countTopK(logits: tf.Tensor2D, labels: tf.Tensor1D, k: number): tf.Scalar {
  checkShapes('countTopK', logits, labels);
  return tf.tidy(() => {
    const kk = Math.min(k, logits.shape[1]);
    const { indices } = tf.topk(logits, kk);
    const hits = tf.equal(indices, tf.expandDims(tf.cast(labels, 'int32'), 1));
    return tf.sum(tf.cast(hits, 'int32'));
  });
}
