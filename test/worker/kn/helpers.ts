import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { Array4 } from './naive';

/** Deterministic normal draws (Box-Muller over a mulberry32 stream): fixtures are the same on every run. */
export function normals(count: number, seed: number, scale = 1, offset = 0): Float64Array {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = offset + scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

/** Values rounded to float32 first, so the naive float64 reference sees exactly what the op sees. */
export function array4(shape: [number, number, number, number], seed: number, scale = 1, offset = 0): Array4 {
  return { shape, data: Float64Array.from(Float32Array.from(normals(shape.reduce((a, b) => a * b, 1), seed, scale, offset))) };
}

export const f32 = (values: Float64Array): Float64Array => Float64Array.from(Float32Array.from(values));

export const tensor4 = (a: Array4): tf.Tensor4D => tf.tensor4d(Float32Array.from(a.data), a.shape);

export const read = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());

/** max |actual - expected| <= atol + rtol * max |expected|, with a message that shows where it failed. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= worst)) { worst = err; at = i; }
  }
  const bound = atol + rtol * scale;
  expect(worst <= bound, `${what}: max error ${worst.toExponential(2)} at ${at} (actual ${actual[at]}, expected ${expected[at]}) > ${bound.toExponential(2)}`).toBe(true);
}

export const BACKENDS = ['cpu', 'wasm'] as const;

/** Like tf.tidy for callbacks that return plain arrays: disposes every tensor made inside. */
export function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}
