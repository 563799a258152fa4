import type * as tf from '@tensorflow/tfjs';
import { dropoutMask } from './dropout';
import { DEFAULT_EPS, type KernelNormOptions } from './options';
import { resolveDropout, resolveEps, resolveGeometry, resolvePadding, resolvePair, resolveSeed, type WindowGeometry } from './validate';

export interface Resolved {
  geometry: WindowGeometry;
  eps: number;
  /** Scaled dropout mask for this call, or null when no dropout applies. Owned by the caller. */
  mask: tf.Tensor4D | null;
}

/** Validates the options shared by the KernelNorm ops and draws this call's dropout mask. */
export function resolveOptions(op: string, x: tf.Tensor4D, kernel: [number, number], opts: KernelNormOptions): Resolved {
  const stride = resolvePair(op, 'stride', opts.stride, 1);
  const geometry = resolveGeometry(op, x.shape, kernel, stride, resolvePadding(op, opts.padding));
  const eps = resolveEps(op, opts.eps, DEFAULT_EPS);
  const rate = resolveDropout(op, opts.dropout);
  const seed = resolveSeed(op, opts.seed);
  // The reference calls F.dropout with its default training=True, so it also drops at evaluation time.
  // We drop only while training: evaluation should be deterministic and use all of the input.
  const mask = opts.training === true && rate > 0 ? (dropoutMask(x.shape, rate, seed) as tf.Tensor4D) : null;
  return { geometry, eps, mask };
}
