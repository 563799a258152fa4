import type * as tf from '@tensorflow/tfjs';

/** A size given once for both spatial axes, or as `[height, width]`. */
export type Pair = number | [number, number];

/**
 * Zero padding of the input. Four numbers are `[top, bottom, left, right]`; a number or `[h, w]` is symmetric.
 * (The reference passes four numbers straight to `F.pad`, whose order is left, right, top, bottom; every
 * four-number padding the KNResNets use is symmetric between the two axes, so both readings agree there.)
 */
export type Padding4 = number | [number, number] | [number, number, number, number];

/**
 * Receives the normalizing statistics an op used: means and standard deviations sqrt(var + eps).
 * The tensors belong to the op and are disposed with its other intermediates: read them synchronously
 * (as `summarizeNormStats` does; not on webgpu), or keep what you need (`sampleNormStats`, or `tf.keep` a clone)
 * and read it asynchronously after the forward pass (`readNormStats`).
 */
export type StatsSink = (kind: 'kn' | 'bn' | 'gn' | 'ln', mean: tf.Tensor, std: tf.Tensor) => void;

export interface KernelNormOptions {
  kernelSize?: Pair;
  stride?: Pair;
  padding?: Padding4;
  /** Dropout rate applied to the input before its statistics are taken; used only when `training`. Default 0. */
  dropout?: number;
  /** Default 1e-5. */
  eps?: number;
  /** Default false. */
  training?: boolean;
  /** Same seed, same dropout mask. Without a seed the mask differs on every call. */
  seed?: number;
  statsSink?: StatsSink;
}

export const DEFAULT_EPS = 1e-5;
