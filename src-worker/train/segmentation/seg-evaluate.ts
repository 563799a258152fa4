import * as tf from '@tensorflow/tfjs';
import type { SegmentationDataset } from '../../data/cityscapes/dataset';
import { ConfusionMatrix, IGNORE_LABEL } from './confusion';
import { pixelCrossEntropy, pixelPredictions } from './pixel-loss';
import type { KeptPrediction } from './previews';
import type { SegmentationModel } from './seg-model';

export interface SegmentationEvalResult {
  /** Mean per-pixel cross-entropy over every labelled pixel of the set. */
  loss: number;
  pixelAccuracy: number;
  /** Per class, NaN for a class absent from both the labels and the predictions. */
  iou: number[];
  miou: number;
  images: number;
  /** Labels and argmax predictions of the set's first `keep` images (SegmentationEvalOptions), in order. */
  kept: KeptPrediction[];
}

export interface SegmentationEvalOptions {
  /** Polled between batches; true abandons the evaluation (the result is then null). */
  shouldStop?: () => boolean;
  afterBatch?: () => void;
  /** Keep the predictions of this many of the first images (for the run's mask previews); none by default. */
  keep?: number;
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
  const keep = opts.keep ?? 0;
  const kept: KeptPrediction[] = [];
  for await (const batch of dataset.batches('test', { batchSize, epoch: 0, seed, shuffle: false, augment: false, dropLast: false })) {
    const [h, w] = batch.shape;
    const wanted = Math.min(Math.max(keep - kept.length, 0), batch.size);
    const { loss, counts, shown } = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
      const y = tf.tensor3d(batch.labels, [batch.size, h, w], 'int32');
      const logits = model.segmentWith(x, { training: false });
      const predictions = pixelPredictions(logits);
      return {
        loss: pixelCrossEntropy(logits, y),
        counts: ConfusionMatrix.batchCounts(y, predictions, dataset.numClasses),
        shown: wanted > 0 ? predictions.slice([0, 0, 0], [wanted, h, w]) : undefined,
      };
    });
    const [l, , shownValues] = await Promise.all([loss.data(), confusion.add(counts), shown?.data()]);
    tf.dispose([loss, counts, ...(shown ? [shown] : [])]);
    const area = h * w;
    for (let i = 0; i < wanted; i++) {
      kept.push({
        width: w, height: h,
        labels: batch.labels.slice(i * area, (i + 1) * area),
        predictions: Int32Array.from(shownValues?.subarray(i * area, (i + 1) * area) ?? []),
      });
    }
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
  return { loss: pixels > 0 ? lossSum / pixels : 0, pixelAccuracy, iou, miou, images, kept };
}
