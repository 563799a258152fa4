import { z } from 'zod';

/**
 * Golden vectors for the KN ops: inputs (float32 values), a probe (the output gradient of the scalar loss
 * sum(out * probe)) and what the float64 naive reference (test/worker/kn/naive.ts) gives for the output and the
 * gradients. Written by generate-golden.ts, read by the check (main.ts) and its test.
 */

const shape4 = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);
const array4 = z.object({ shape: shape4, data: z.array(z.number()) }).refine((a) => a.data.length === a.shape.reduce((p, d) => p * d, 1), 'data length must match shape');
const pair = z.tuple([z.number().int().positive(), z.number().int().positive()]);
const padding4 = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().nonnegative()]);
const dropout = z.object({ rate: z.number().min(0).lt(1), seed: z.number().int(), mask: z.array(z.number()) });
const grads = z.record(z.string(), z.array(z.number()));

const common = {
  name: z.string(),
  x: array4,
  /** [top, bottom, left, right] */
  padding: padding4,
  stride: pair,
  /** Training-mode dropout on the statistics' input, with the mask the seed gives (dropoutMask). */
  dropout: dropout.nullable(),
  probe: z.array(z.number()),
  out: z.object({ shape: shape4, data: z.array(z.number()) }),
};

export const goldenCaseSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('knConv2d'), ...common, weight: array4, bias: z.array(z.number()).nullable(), grads }),
  z.object({ op: z.literal('kernelNorm2d'), ...common, kernel: pair, grads }),
  z.object({ op: z.literal('kernelNorm2d1x1'), ...common, grads }),
]);

export const goldenFileSchema = z.object({
  format: z.literal('normlab-kn-golden/1'),
  reference: z.string(),
  eps: z.number().positive(),
  cases: z.array(goldenCaseSchema).min(1),
});

export type GoldenCase = z.infer<typeof goldenCaseSchema>;
export type GoldenFile = z.infer<typeof goldenFileSchema>;

/** float32 forward: as the webgpu test suite (test/webgpu/kn-ops.test.ts). */
export const FORWARD_TOLERANCE = { rtol: 1e-4, atol: 1e-5 };
/** Gradients sum more float32 terms (every window a pixel is in). */
export const GRADIENT_TOLERANCE = { rtol: 1e-3, atol: 1e-4 };

export interface Comparison {
  maxAbs: number;
  /** maxAbs / max |expected|: the error relative to the quantity's scale. */
  maxRel: number;
  /** maxAbs <= atol + rtol * max |expected| (and the lengths agree, and nothing is NaN). */
  pass: boolean;
  at: number;
}

export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol: number; atol: number }): Comparison {
  if (actual.length !== expected.length) return { maxAbs: Infinity, maxRel: Infinity, pass: false, at: -1 };
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let maxAbs = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= maxAbs)) { maxAbs = err; at = i; } // NaN wins
  }
  const maxRel = scale > 0 ? maxAbs / scale : maxAbs;
  return { maxAbs, maxRel, pass: maxAbs <= tol.atol + tol.rtol * scale, at };
}
