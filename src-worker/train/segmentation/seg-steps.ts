import * as tf from '@tensorflow/tfjs';
import type { SegmentationBatch, SegmentationDataset } from '../../data/cityscapes/dataset';
import type { RunOptimizer } from '../recipe/optimizer';
import type { NamedParameter } from '../sgd';
import { pixelCrossEntropy } from './pixel-loss';
import type { SegmentationModel } from './seg-model';

export interface SegmentationStepResult {
  /** Mean of the micro-batches' mean pixel losses. */
  loss: number;
  images: number;
  waitMs: number;
}

export interface SegmentationEpochSteps {
  /** Trains the next optimizer step of the epoch; null once the epoch is over. */
  next(lr: number, globalStep: number, collectStats: boolean): Promise<SegmentationStepResult | null>;
  close(): Promise<void>;
}

export interface SegmentationStepOptions {
  batchSize: number;
  /** Micro-batches per optimizer step (gradient accumulation); 1 is plain SGD. */
  accumulate: number;
  seed: number;
  augment: boolean;
}

/** Optimizer steps in an epoch: every micro-batch is used, the last step may hold fewer of them. */
export function segmentationStepsPerEpoch(trainSize: number, opts: Pick<SegmentationStepOptions, 'batchSize' | 'accumulate'>): number {
  return Math.ceil(Math.ceil(trainSize / opts.batchSize) / opts.accumulate);
}

function microBatchGrads(model: SegmentationModel, params: NamedParameter[], batch: SegmentationBatch, step: number, collectStats: boolean) {
  return tf.tidy(() => {
    const [h, w] = batch.shape;
    const x = tf.tensor4d(batch.x, [batch.size, ...batch.shape]);
    const y = tf.tensor3d(batch.labels, [batch.size, h, w], 'int32');
    return tf.variableGrads(() => pixelCrossEntropy(model.segmentWith(x, { training: true, collectStats, step }), y), params.map((p) => p.variable));
  });
}

/**
 * One epoch of optimizer steps, each over `accumulate` micro-batches whose gradients are averaged before the
 * update, each micro-batch weighted equally as DDP weights its GPUs (every micro-batch loss is already a mean over
 * its labelled pixels): with per-micro-batch normalisation statistics this is the paper's 2 GPUs × 8 with per-GPU
 * BatchNorm on one device. Each micro-batch gets its own dropout step (globalStep·accumulate + i), so a resumed run draws the same.
 */
export function openSegmentationEpoch(
  model: SegmentationModel, dataset: SegmentationDataset, params: NamedParameter[], optimizer: RunOptimizer,
  opts: SegmentationStepOptions, epoch: number, startStep: number,
): SegmentationEpochSteps {
  const iterator = dataset.batches('train', {
    batchSize: opts.batchSize, epoch, seed: opts.seed, shuffle: true, augment: opts.augment, dropLast: false,
    startBatch: Math.min(startStep * opts.accumulate, Math.ceil(dataset.trainSize / opts.batchSize)),
  })[Symbol.asyncIterator]();
  return {
    async next(lr, globalStep, collectStats) {
      let summed: tf.NamedTensorMap | null = null;
      let lossSum = 0;
      let micro = 0;
      let images = 0;
      let waitMs = 0;
      try {
        for (; micro < opts.accumulate; micro++) {
          const waitStart = performance.now();
          const next = await iterator.next();
          waitMs += performance.now() - waitStart;
          if (next.done) break;
          const { value, grads } = microBatchGrads(model, params, next.value, globalStep * opts.accumulate + micro, collectStats);
          if (summed === null) summed = grads;
          else {
            const previous: tf.NamedTensorMap = summed;
            summed = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, previous[name] ? tf.add(previous[name], g) : g])));
            tf.dispose([...Object.values(previous), ...Object.values(grads)]);
          }
          lossSum += (await value.data())[0] ?? Number.NaN;
          value.dispose();
          images += next.value.size;
        }
        if (summed === null) return null;
        const total: tf.NamedTensorMap = summed;
        const mean = micro === 1 ? total : tf.tidy(() => Object.fromEntries(Object.entries(total).map(([name, g]) => [name, tf.div(g, micro)])));
        optimizer.step(mean, lr);
        if (mean !== total) tf.dispose(Object.values(mean));
        return { loss: lossSum / micro, images, waitMs };
      } finally {
        if (summed) tf.dispose(Object.values(summed));
      }
    },
    async close() {
      await iterator.return?.(undefined);
    },
  };
}
