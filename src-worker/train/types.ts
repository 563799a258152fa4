import type * as tf from '@tensorflow/tfjs';
import type { NormLayerStats } from '../kn/stats';

/**
 * The parts of the models registry's NormLabModel and the data sets' Dataset (docs/contracts.md) the trainer
 * uses. Declared structurally so the trainer depends on behaviour, not on one module, and tests can hand in
 * a small model of their own.
 */
export interface TrainForwardContext {
  training: boolean;
  collectStats?: boolean;
  /**
   * Training step; the model seeds KernelNorm dropout from (its init seed, step), so a resumed run passing
   * the global step draws the same masks as an uninterrupted one.
   */
  step?: number;
}

export interface TrainableModel {
  info: { name: string; norm: string };
  forward(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
  forwardWith(x: tf.Tensor4D, ctx: TrainForwardContext): tf.Tensor2D;
  /** Every variable with a stable path, trainable or not (BatchNorm running statistics are not). */
  namedVariables(): { path: string; variable: tf.Variable; trainable: boolean }[];
  countParams(): number;
  lastNormStats(): NormLayerStats[];
  dispose(): void;
}

export interface TrainBatch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  shape: [number, number, number];
}

export interface BatchOptions {
  batchSize: number;
  epoch: number;
  seed: number;
  shuffle?: boolean;
  augment?: boolean;
  dropLast?: boolean;
  startBatch?: number;
}

export interface TrainingDataset {
  name: string;
  numClasses: number;
  imageShape: [number, number, number];
  trainSize: number;
  testSize: number;
  batches(split: 'train' | 'test', opts: BatchOptions): AsyncIterable<TrainBatch>;
  close(): Promise<void>;
}
