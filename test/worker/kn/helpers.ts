import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { Padding4 } from '../../../src-worker/kn/options';
import { resolvePadding } from '../../../src-worker/kn/validate';
import { dot, naiveKnConv2d, normals, numericGradients, type Array4, type NaiveWindowOptions } from './naive';

export { normals };

/** Values rounded to float32 first, so the naive float64 reference sees exactly what the op sees. */
export function array4(shape: [number, number, number, number], seed: number, scale = 1, offset = 0): Array4 {
  return { shape, data: Float64Array.from(Float32Array.from(normals(shape.reduce((a, b) => a * b, 1), seed, scale, offset))) };
}

export const f32 = (values: Float64Array): Float64Array => Float64Array.from(Float32Array.from(values));

export const tensor4 = (a: Array4): tf.Tensor4D => tf.tensor4d(Float32Array.from(a.data), a.shape);

export const read = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());

/** `read` for backends without synchronous reads (webgpu in Node: dataSync throws). */
export const readAsync = async (t: tf.Tensor): Promise<Float64Array> => Float64Array.from(await t.data());

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

/** `scoped` for async callbacks; the callback must not run concurrently with other tensor work. */
export async function scopedAsync<T>(fn: () => Promise<T>): Promise<T> {
  tf.engine().startScope();
  try {
    return await fn();
  } finally {
    tf.engine().endScope();
  }
}

// Shape cases shared by the cpu/wasm tests (test/worker/kn) and the webgpu tests (test/webgpu).

export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  kernel: [number, number];
  out: number;
  stride: number | [number, number];
  padding: Padding4;
  bias?: boolean;
}

export const convCases: ConvCase[] = [
  { name: '3x3 stride 1 padding 1', x: [2, 5, 5, 3], kernel: [3, 3], out: 4, stride: 1, padding: 1 },
  { name: '2x2 padding [1,0,1,0] (KNResNet transition)', x: [2, 4, 5, 3], kernel: [2, 2], out: 3, stride: 1, padding: [1, 0, 1, 0] },
  { name: '2x2 padding [0,1,0,1]', x: [1, 5, 4, 2], kernel: [2, 2], out: 3, stride: 1, padding: [0, 1, 0, 1] },
  { name: '2x2 padding [2,1,2,1]', x: [2, 3, 3, 2], kernel: [2, 2], out: 2, stride: 1, padding: [2, 1, 2, 1] },
  { name: '3x3 stride 2 padding 1, odd sizes', x: [2, 7, 7, 5], kernel: [3, 3], out: 4, stride: 2, padding: 1 },
  { name: '7x7 stem stride 2 padding 3', x: [1, 9, 9, 3], kernel: [7, 7], out: 4, stride: 2, padding: 3 },
  { name: '1x1', x: [2, 3, 4, 6], kernel: [1, 1], out: 5, stride: 1, padding: 0 },
  { name: '2x2 kernel on a 1x1 input padded [1,0,1,0]', x: [3, 1, 1, 4], kernel: [2, 2], out: 3, stride: 1, padding: [1, 0, 1, 0] },
  { name: '2x2 no padding, one channel, no bias', x: [2, 3, 3, 1], kernel: [2, 2], out: 2, stride: 1, padding: 0, bias: false },
  { name: '3x2 kernel, stride [2,1], padding [h,w] = [1,0]', x: [1, 6, 5, 3], kernel: [3, 2], out: 2, stride: [2, 1], padding: [1, 0] },
];

export interface WindowCase { name: string; x: [number, number, number, number]; kernel: [number, number]; stride: [number, number]; padding: Padding4 }

export const windowCases: WindowCase[] = [
  { name: '2x2 padding [1,0,1,0]', x: [2, 3, 4, 3], kernel: [2, 2], stride: [1, 1], padding: [1, 0, 1, 0] },
  { name: '3x3 stride 2 padding 1, odd size', x: [1, 5, 5, 2], kernel: [3, 3], stride: [2, 2], padding: 1 },
  { name: '2x2 on a 1x1 input padded [0,1,0,1]', x: [2, 1, 1, 3], kernel: [2, 2], stride: [1, 1], padding: [0, 1, 0, 1] },
  { name: '3x2 stride [1,2] no padding', x: [1, 4, 5, 4], kernel: [3, 2], stride: [1, 2], padding: 0 },
];

export function naiveOptions(c: { kernel: [number, number]; stride: number | [number, number]; padding: Padding4 }, mask: Float64Array | null = null): NaiveWindowOptions {
  const stride: [number, number] = typeof c.stride === 'number' ? [c.stride, c.stride] : c.stride;
  return { kernel: c.kernel, stride, padding: resolvePadding('test', c.padding), eps: 1e-5, mask };
}

export function convFixture(c: ConvCase, seed: number): { x: Array4; weight: Array4; bias: Float64Array | null } {
  const x = array4(c.x, seed);
  const weight = array4([c.kernel[0], c.kernel[1], c.x[3], c.out], seed + 1, 0.5);
  const bias = c.bias === false ? null : f32(normals(c.out, seed + 2));
  return { x, weight, bias };
}

/** Naive gradients of sum(out * probe) w.r.t. x, weight (and bias), by float64 central differences. */
export function naiveConvGradients(x: Array4, weight: Array4, bias: Float64Array | null, o: NaiveWindowOptions, probe: Float64Array): Float64Array[] {
  const params = bias ? [x.data.slice(), weight.data.slice(), bias.slice()] : [x.data.slice(), weight.data.slice()];
  return numericGradients((p) => dot(naiveKnConv2d({ shape: x.shape, data: p[0] }, { shape: weight.shape, data: p[1] }, bias ? p[2] : null, o).out.data, probe), params);
}
