import * as tf from '@tensorflow/tfjs';
import { countTopK, crossEntropyFromLogits } from './loss';
import type { TrainableModel, TrainingDataset } from './types';

export interface EvalResult {
  loss: number;
  acc: number;
  acc5: number;
  images: number;
}

export interface EvaluateOptions {
  /** Polled between batches; true abandons the evaluation (the result is then null). */
  shouldStop?: () => boolean;
  afterBatch?: () => void;
}

/**
 * Mean loss, top-1 and top-5 accuracy over the whole test split, in inference mode and a fixed order; null when
 * `shouldStop` asked to stop part-way.
 */
export async function evaluate(model: TrainableModel, dataset: TrainingDataset, batchSize: number, seed: number, opts: EvaluateOptions = {}): Promise<EvalResult | null> {
  let lossSum = 0;
  let top1 = 0;
  let top5 = 0;
  let images = 0;
  for await (const batch of dataset.batches('test', { batchSize, epoch: 0, seed, shuffle: false, augment: false, dropLast: false })) {
    const [loss, c1, c5] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
      const y = tf.tensor1d(batch.y, 'int32');
      const logits = model.forward(x, false);
      return [crossEntropyFromLogits(logits, y), countTopK(logits, y, 1), countTopK(logits, y, 5)];
    });
    const [l, a1, a5] = await Promise.all([loss.data(), c1.data(), c5.data()]);
    tf.dispose([loss, c1, c5]);
    lossSum += l[0] * batch.size;
    top1 += a1[0];
    top5 += a5[0];
    images += batch.size;
    opts.afterBatch?.();
    if (opts.shouldStop) {
      // let a pending cancel message or signal be seen: resolved reads alone would starve the event loop
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.shouldStop()) return null;
    }
  }
  if (images === 0) throw new Error('evaluate: the test split produced no batches');
  return { loss: lossSum / images, acc: top1 / images, acc5: top5 / images, images };
}
