import type * as tf from '@tensorflow/tfjs';
import type { NormLayerStats } from '../kn/stats';

/** Options every model constructor accepts (docs/contracts.md). */
export interface ModelOptions {
  numClasses: number;
  /** CIFAR-style stem (3×3 conv, no max-pool) instead of the ImageNet stem (7×7/2 conv + 3×3/2 max-pool). */
  lowResolution: boolean;
  /** Dropout rate inside KernelNorm's statistics; 0.05 as in the reference. */
  knDropout?: number;
  /** GroupNorm groups (32); reduced per layer when it does not divide the channels, see `groupsFor`. */
  groups?: number;
  /** Scales every channel width, see `scaleWidth`. */
  widthMultiplier?: number;
  /** 'mish' replaces every ReLU (DP-SGD training prefers a smooth activation). */
  activation?: 'relu' | 'mish';
  /** Seeds weight initialisation and KernelNorm dropout; drawn at random when absent. */
  seed?: number;
}

export type ModelFamily = 'knresnet' | 'resnet' | 'preact_resnet' | 'cnn' | 'kn_cnn' | 'convnext' | 'knconvnext' | 'fc_resnet' | 'fc_knresnet';
export type NormKind = 'kn' | 'bn' | 'gn' | 'ln' | 'nn';

export interface ModelInfo {
  name: string;
  family: ModelFamily;
  norm: NormKind;
  depth?: number;
  description: string;
  /** Absent for classifiers; 'segmentation' for the fully convolutional models (per-pixel logits). */
  task?: 'segmentation';
}

/** 'dwconv': a depthwise conv (ConvNeXt's 7×7), weight [kh, kw, C, 1]. */
export type LayerKind = 'knconv' | 'knconv1x1' | 'conv' | 'dwconv' | 'linear' | 'bn' | 'gn' | 'ln';

/**
 * One parameterised layer. For 'knconv1x1' the tap sees the 1×1 convolution: its input is the
 * KernelNorm-normalised tensor, so (input, output gradient) gives the weight gradient as for a plain conv.
 */
export interface LayerInfo {
  path: string;
  kind: LayerKind;
  kernelSize?: [number, number];
  stride?: [number, number];
  /** [top, bottom, left, right] */
  padding?: [number, number, number, number];
  eps?: number;
  groups?: number;
  dropout?: number;
  /**
   * Only in the LayerInfo a tap receives for a 'knconv' layer in training: the dropout seed of this call,
   * so a caller can recompute the same window statistics.
   */
  seed?: number;
  weight?: tf.Variable;
  bias?: tf.Variable | null;
  gamma?: tf.Variable;
  beta?: tf.Variable;
}

export interface ForwardContext {
  training: boolean;
  collectStats?: boolean;
  /**
   * Lets a caller see each parameterised layer's input and replace its output (e.g. add a probe for
   * per-sample gradients in DP-SGD); must return a tensor of the output's shape.
   */
  tap?: (layer: LayerInfo, input: tf.Tensor, output: tf.Tensor) => tf.Tensor;
  /**
   * Training step used to seed KernelNorm dropout. When absent the model counts its own training
   * forwards; a resumed run passes the step so its dropout masks match an uninterrupted run.
   */
  step?: number;
}

export interface NamedVariable {
  path: string;
  variable: tf.Variable;
  trainable: boolean;
}

export interface NormLabModel {
  info: ModelInfo;
  /** The seed actually used (the one given, or the one drawn). */
  readonly seed: number;
  /** Logits [N, classes]; throws for segmentation models. */
  forward(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
  forwardWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D;
  /** Per-pixel logits [N, H, W, classes] at the input's size; only for segmentation models. */
  segment(x: tf.Tensor4D, training: boolean): tf.Tensor4D;
  segmentWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
  layers(): LayerInfo[];
  /** Stable paths (PyTorch state_dict names) for checkpoints. */
  namedVariables(): NamedVariable[];
  trainableVariables(): tf.Variable[];
  /** Trainable parameters, as PyTorch counts them. */
  countParams(): number;
  /**
   * The statistics of the last forwardWith({collectStats: true}), one entry per normalisation layer in forward
   * order, read in one asynchronous read (every backend has one) and handed over: a second call gives [].
   */
  takeNormStats(): Promise<NormLayerStats[]>;
  dispose(): void;
}

/** Parameter shapes of a model without allocating it (the UI's model picker shows sizes this way). */
export interface ModelDescription {
  info: ModelInfo;
  params: { path: string; shape: number[]; trainable: boolean }[];
  paramCount: number;
}
