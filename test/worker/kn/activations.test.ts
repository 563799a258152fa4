import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { mish, relu } from '../../../src-worker/kn/activations';
import { BACKENDS, expectClose, f32, normals, read, scoped } from './helpers';
import { naiveMish } from './naive';

for (const backend of BACKENDS) {
  describe(`activations on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });

    it('mish matches x tanh(softplus(x)) and its derivative (float64 central differences)', () => {
      const x = f32(normals(200, 1, 4));
      const [y, dy] = scoped(() => [read(mish(tf.tensor1d(Float32Array.from(x)))), read(tf.grad((t: tf.Tensor) => mish(t))(tf.tensor1d(Float32Array.from(x))))]);
      expectClose(y, x.map(naiveMish), 1e-5, 1e-6, 'mish');
      const h = 1e-6;
      expectClose(dy, x.map((v) => (naiveMish(v + h) - naiveMish(v - h)) / (2 * h)), 1e-4, 1e-5, "mish'");
    });

    it('mish and its gradient stay finite and exact at large |x|', () => {
      const x = [-1e4, -500, -90, -20, 20, 90, 500, 1e4];
      const [y, dy] = scoped(() => [read(mish(tf.tensor1d(x))), read(tf.grad((t: tf.Tensor) => mish(t))(tf.tensor1d(x)))]);
      expect(Array.from(y).every(Number.isFinite)).toBe(true);
      expect(Array.from(dy).every(Number.isFinite)).toBe(true);
      // Far right mish(x) = x with slope 1; far left it vanishes with slope 0.
      expect(Array.from(y.slice(4))).toEqual([20, 90, 500, 1e4]);
      expect(Array.from(dy.slice(5))).toEqual([1, 1, 1]);
      for (const v of y.slice(0, 3)) expect(Math.abs(v)).toBeLessThan(1e-30);
      expect(y[3]).toBeCloseTo(naiveMish(-20), 12);
    });

    it('relu clips negatives and passes gradient only where x > 0', () => {
      const [y, dy] = scoped(() => [read(relu(tf.tensor1d([-2, -0.5, 0.5, 3]))), read(tf.grad((t: tf.Tensor) => relu(t))(tf.tensor1d([-2, -0.5, 0.5, 3])))]);
      expect(Array.from(y)).toEqual([0, 0, 0.5, 3]);
      expect(Array.from(dy)).toEqual([0, 0, 1, 1]);
    });

    it('leaves no tensors behind', () => {
      const x = tf.randomNormal([50]);
      const before = tf.memory().numTensors;
      mish(x).dispose();
      tf.grad((t: tf.Tensor) => mish(t))(x).dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
}
