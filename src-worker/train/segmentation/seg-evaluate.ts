import * as tf from '@tensorflow/tfjs';
import type { SegmentationDataset } from '../../data/cityscapes/dataset';
import { ConfusionMatrix, IGNORE_LABEL } from './confusion';
import { pixelCrossEntropy, pixelPredictions } from './pixel-loss';
import type { SegmentationModel } from './seg-model';

export interface SegmentationEvalResult {
  /** Mean per-pixel cross-entropy over every labelled pixel of the set. */
  loss: number;
  pixelAccuracy: number;
  /** Per class, NaN for a class absent from both the labels and the predictions. */
  iou: number[];
  miou: number;
  images: number;
}

export interface SegmentationEvalOptions {
  /** Polled between batches; true abandons the evaluation (the result is then null). */
  shouldStop?: () => boolean;
  afterBatch?: () => void;
}

function labelledPixels(labels: Int32Array): number {
  let n = 0;
  for (const v of labels) if (v !== IGNORE_LABEL) n++;
  return n;
}

/**
 * One confusion matrix over the whole test split, in inference mode and file order (mmsegmentation's mean_iou
 * and torchvision's reference accumulate the same way: IoU from summed counts, not a mean of per-image IoUs).
 */
export async function evaluateSegmentation(
  model: SegmentationModel, dataset: SegmentationDataset, batchSize: number, seed: number, opts: SegmentationEvalOptions = {},
): Promise<SegmentationEvalResult | null> {
  const confusion = new ConfusionMatrix(dataset.numClasses);
  let lossSum = 0;
  let pixels = 0;
  let images = 0;
  for await (const batch of dataset.batches('test', { batchSize, epoch: 0, seed, shuffle: false, augment: false, dropLast: false })) {
    const [h, w] = batch.shape;
    const [loss, counts] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
      const y = tf.tensor3d(batch.labels, [batch.size, h, w], 'int32');
      const logits = model.segmentWith(x, { training: false });
      return [pixelCrossEntropy(logits, y), ConfusionMatrix.batchCounts(y, pixelPredictions(logits), dataset.numClasses)];
    });
    const [l] = await Promise.all([loss.data(), confusion.add(counts)]);
    tf.dispose([loss, counts]);
    const labelled = labelledPixels(batch.labels);
    lossSum += (l[0] ?? 0) * labelled;
    pixels += labelled;
    images += batch.size;
    opts.afterBatch?.();
    if (opts.shouldStop) {
      // let a pending cancel message or signal be seen: resolved reads alone would starve the event loop
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.shouldStop()) return null;
    }
  }
  if (images === 0) throw new Error('evaluateSegmentation: the test split produced no batches');
  const { pixelAccuracy, iou, miou } = confusion.metrics();
  return { loss: pixels > 0 ? lossSum / pixels : 0, pixelAccuracy, iou, miou, images };
}
