import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-worker/backend';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

function tensor4(shape: Shape4, seed: string): tf.Tensor4D {
  const rng = seedrandom(seed);
  return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 2 - 1), shape);
}

/** dx and dW of Σ depthwiseConv2d(x, w) ⊙ r (r fixed, so dy is not uniform). */
function gradients(x: Shape4, filter: Shape4, pad: Pad, seed: string): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xs = tensor4(x, `${seed}x`);
    const w = tensor4(filter, `${seed}w`);
    const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad);
    const r = tensor4(conv(xs, w).shape, `${seed}r`);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a, b).mul(r).sum())([xs, w]);
    return { dx: (dx).dataSync() as Float32Array, dw: (dw).dataSync() as Float32Array };
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  expected.forEach((e, i) => {
    diff = Math.max(diff, Math.abs((actual[i] ?? Number.NaN) - e));
    scale = Math.max(scale, Math.abs(e));
  });
  return diff / Math.max(scale, 1e-12);
}

beforeAll(async () => {
  expect((await initBackend('wasm')).backend).toBe('wasm');
});

describe('wasm depthwise conv gradients (ConvNeXt blocks) match the cpu backend', () => {
  const cases: { x: Shape4; filter: Shape4; pad: Pad }[] = [
    { x: [2, 8, 8, 6], filter: [7, 7, 6, 1], pad: 3 }, // ConvNeXt's 7×7, padding 3
    { x: [1, 5, 7, 3], filter: [3, 3, 3, 1], pad: 'same' },
    { x: [3, 6, 6, 2], filter: [2, 3, 2, 1], pad: 'valid' },
    { x: [2, 4, 5, 4], filter: [3, 3, 4, 1], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [2, 3, 3, 5], filter: [7, 7, 5, 1], pad: 3 }, // kernel wider than the image
  ];
  it.each(cases.map((c, i) => [`x [${c.x}] filter [${c.filter}] pad ${JSON.stringify(c.pad)}`, c, i] as const))('%s', async (_n, c, i) => {
    await tf.setBackend('cpu');
    const cpu = gradients(c.x, c.filter, c.pad, `dw${i}`);
    await tf.setBackend('wasm');
    const wasm = gradients(c.x, c.filter, c.pad, `dw${i}`);
    expect(relativeError(wasm.dx, cpu.dx)).toBeLessThan(1e-4);
    expect(relativeError(wasm.dw, cpu.dw)).toBeLessThan(1e-4);
  });

  it('names what it cannot do (strided depthwise)', () => {
    const x = tf.zeros<tf.Rank.R4>([1, 6, 6, 2]);
    const w = tf.zeros<tf.Rank.R4>([3, 3, 2, 1]);
    expect(() => tf.grad((a: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, w, 2, 'same').sum())(x)).toThrow(
      /DepthwiseConv2dNativeBackpropInput \(wasm\): strides 2 are not supported/,
    );
  });
});
