import * as tf from '@tensorflow/tfjs';

/** Cityscapes' ignore label: pixels of classes outside the 19 evaluated ones. */
export const IGNORE_LABEL = 255;

/**
 * A K×K confusion matrix (rows: ground truth, columns: prediction) accumulated over a whole evaluation set, as
 * torchvision's segmentation reference does: per-batch counts on the device, summed on the host.
 */
export class ConfusionMatrix {
  readonly counts: Float64Array;

  constructor(readonly numClasses: number) {
    if (!(Number.isInteger(numClasses) && numClasses > 0)) throw new Error(`Error in ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Counts of one batch as a K·K int32 tensor: `labels` and `predictions` are integer maps of the same shape;
   * labels equal to `ignoreLabel` (or outside 0..K−1) are left out.
   */
  static batchCounts(labels: tf.Tensor, predictions: tf.Tensor, numClasses: number, ignoreLabel = IGNORE_LABEL): tf.Tensor1D {
    if (labels.shape.join() !== predictions.shape.join()) {
      throw new Error(`Error in ConfusionMatrix.batchCounts: labels [${labels.shape}] and predictions [${predictions.shape}] differ in shape`);
    }
    return tf.tidy(() => {
      const y = tf.cast(labels, 'int32').flatten();
      const p = tf.cast(predictions, 'int32').flatten();
      const valid = tf.logicalAnd(tf.logicalAnd(tf.greaterEqual(y, 0), tf.less(y, numClasses)), tf.notEqual(y, ignoreLabel));
      // invalid pixels go to an extra bin past K·K that is dropped
      const index = tf.where(valid, tf.add(tf.mul(y, tf.scalar(numClasses, 'int32')), p), tf.fill(y.shape, numClasses * numClasses, 'int32'));
      // unsortedSegmentSum rather than bincount: the wasm backend has no Bincount kernel (ours adds this one)
      const bins = tf.unsortedSegmentSum(tf.onesLike(index).toFloat(), index as tf.Tensor1D, numClasses * numClasses + 1);
      return bins.slice([0], [numClasses * numClasses]).toInt() as tf.Tensor1D;
    });
  }

  /** Adds a batch's counts (read asynchronously: GPU backends have no synchronous reads). */
  async add(batchCounts: tf.Tensor1D): Promise<void> {
    const values = await batchCounts.data();
    if (values.length !== this.counts.length) throw new Error(`Error in ConfusionMatrix.add: expected ${this.counts.length} counts, got ${values.length}`);
    for (let i = 0; i < values.length; i++) this.counts[i] = (this.counts[i] ?? 0) + (values[i] ?? 0);
  }

  /** Pixel accuracy, per-class IoU (NaN for a class absent from both labels and predictions) and their mean. */
  metrics(): { pixelAccuracy: number; iou: number[]; miou: number } {
    const k = this.numClasses;
    let correct = 0;
    let total = 0;
    const iou: number[] = [];
    for (let c = 0; c < k; c++) {
      const tp = this.counts[c * k + c] ?? 0;
      let row = 0;
      let col = 0;
      for (let j = 0; j < k; j++) {
        row += this.counts[c * k + j] ?? 0;
        col += this.counts[j * k + c] ?? 0;
      }
      correct += tp;
      total += row;
      const union = row + col - tp;
      iou.push(union === 0 ? Number.NaN : tp / union);
    }
    // classes that never occur are left out of the mean rather than counted as 0 or poisoning it with NaN
    const present = iou.filter((v) => !Number.isNaN(v));
    return {
      pixelAccuracy: total === 0 ? Number.NaN : correct / total,
      iou,
      miou: present.length === 0 ? Number.NaN : present.reduce((a, b) => a + b, 0) / present.length,
    };
  }
}
