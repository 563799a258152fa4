import type * as tf from '@tensorflow/tfjs';
import type { Batch, BatchIterationOptions } from '../data/types';
import type { NormLayerStats } from '../kn/stats';
import type { ForwardContext, LayerInfo } from '../models/types';

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
  forwardWith(x: tf.Tensor4D, ctx: TrainForwardContext & Pick<ForwardContext, 'tap'>): tf.Tensor2D;
  /** Parameterised layers, for DP-SGD's per-sample gradients (the registry's models have them). */
  layers?(): LayerInfo[];
  /** Trainable variables, for DP-SGD (every one must belong to a tapped layer). */
  trainableVariables?(): tf.Variable[];
  /** Every variable with a stable path, trainable or not (BatchNorm running statistics are not). */
  namedVariables(): { path: string; variable: tf.Variable; trainable: boolean }[];
  countParams(): number;
  takeNormStats(): Promise<NormLayerStats[]>;
  dispose(): void;
}

export type TrainBatch = Batch;
export type BatchOptions = Omit<BatchIterationOptions, 'prefetch'>;

export interface TrainingDataset {
  name: string;
  numClasses: number;
  imageShape: [number, number, number];
  trainSize: number;
  testSize: number;
  batches(split: 'train' | 'test', opts: BatchOptions): AsyncIterable<TrainBatch>;
  /** Random access by index, for DP-SGD's Poisson sampling (the data sets of src-worker/data have it). */
  getBatch?(split: 'train' | 'test', indices: Int32Array, opts: { augment: boolean; seed: number; epoch?: number }): Promise<TrainBatch>;
  close(): Promise<void>;
}
