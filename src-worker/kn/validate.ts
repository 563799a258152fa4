import * as tf from '@tensorflow/tfjs';
import type { Pair, Padding4 } from './options';

/** Where the windows of a KernelNorm op lie on its (implicitly zero-padded) input. */
export interface WindowGeometry {
  kernel: [number, number];
  stride: [number, number];
  /** [top, bottom, left, right] */
  padding: [number, number, number, number];
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
}

export function fail(op: string, message: string): never {
  throw new Error(`Error in ${op}: ${message}`);
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(',')}]`;

export function assertTensor(op: string, name: string, value: unknown): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) fail(op, `${name} must be a tf.Tensor, but got ${value === null ? 'null' : typeof value}.`);
  if (value.isDisposed) fail(op, `${name} has already been disposed.`);
  if (value.dtype !== 'float32') fail(op, `${name} must be float32, but got ${value.dtype}.`);
}

export function assertRank(op: string, name: string, value: unknown, rank: number): asserts value is tf.Tensor {
  assertTensor(op, name, value);
  if (value.rank !== rank) fail(op, `${name} must be rank ${rank}, but got rank ${value.rank} (shape ${shapeText(value.shape)}).`);
}

/** A rank-1 tensor with one entry per channel (gamma, beta, bias). */
export function assertPerChannel(op: string, name: string, value: unknown, channels: number, of: string): asserts value is tf.Tensor1D {
  assertTensor(op, name, value);
  if (value.rank !== 1 || value.shape[0] !== channels) {
    fail(op, `${name} must be rank 1 with length ${channels} (${of}), but got shape ${shapeText(value.shape)}.`);
  }
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function resolvePair(op: string, name: string, value: Pair | undefined, fallback: number): [number, number] {
  const pair = value === undefined ? [fallback, fallback] : typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every(isPositiveInt)) {
    fail(op, `${name} must be a positive integer or [height, width] of positive integers, but got ${JSON.stringify(value)}.`);
  }
  return [pair[0], pair[1]];
}

export function resolvePadding(op: string, value: Padding4 | undefined): [number, number, number, number] {
  const list = value === undefined ? [0] : typeof value === 'number' ? [value] : value;
  if (!Array.isArray(list) || ![1, 2, 4].includes(list.length) || !list.every(isNonNegativeInt)) {
    fail(op, `padding must be a non-negative integer or an array of 1, 2 or 4 of them ` +
      `([h, w] or [top, bottom, left, right]), but got ${JSON.stringify(value)}.`);
  }
  if (list.length === 1) return [list[0], list[0], list[0], list[0]];
  if (list.length === 2) return [list[0], list[0], list[1], list[1]];
  return [list[0], list[1], list[2], list[3]];
}

export function resolveGeometry(
  op: string, xShape: readonly number[], kernel: [number, number], stride: [number, number],
  padding: [number, number, number, number],
): WindowGeometry {
  const [, inHeight, inWidth] = xShape;
  const paddedHeight = inHeight + padding[0] + padding[1];
  const paddedWidth = inWidth + padding[2] + padding[3];
  if (kernel[0] > paddedHeight || kernel[1] > paddedWidth) {
    fail(op, `kernel ${kernel[0]}x${kernel[1]} is larger than the padded input ${paddedHeight}x${paddedWidth} ` +
      `(input ${inHeight}x${inWidth}, padding ${shapeText(padding)}).`);
  }
  return {
    kernel, stride, padding, inHeight, inWidth,
    outHeight: Math.floor((paddedHeight - kernel[0]) / stride[0]) + 1,
    outWidth: Math.floor((paddedWidth - kernel[1]) / stride[1]) + 1,
  };
}

export function resolveDropout(op: string, value: number | undefined): number {
  const rate = value ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) fail(op, `dropout must be in [0, 1), but got ${value}.`);
  return rate;
}

export function resolveEps(op: string, value: number | undefined, fallback: number): number {
  const eps = value ?? fallback;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) fail(op, `eps must be a positive finite number, but got ${value}.`);
  return eps;
}

export function resolveSeed(op: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) fail(op, `seed must be a finite number, but got ${value}.`);
  return value;
}
