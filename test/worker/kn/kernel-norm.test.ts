import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { dropoutMask } from '../../../src-worker/kn/dropout';
import { kernelNorm2d, kernelNorm2d1x1, knConv2d, knWindowMoments, type Padding4 } from '../../../src-worker/kn/ops';
import { BACKENDS, array4, expectClose, f32, naiveOptions, normals, read, scoped, tensor4, windowCases, type WindowCase } from './helpers';
import { dot, naiveKernelNorm1x1, naiveKernelNorm2d, numericGradients } from './naive';

for (const backend of BACKENDS) {
  describe(`KernelNorm ops on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });

    it.each(windowCases)('kernelNorm2d forward and gradient match the naive definition: $name', (c) => {
      const x = array4(c.x, 3);
      const expected = naiveKernelNorm2d(x, naiveOptions(c));
      const probe = f32(normals(expected.out.data.length, 4));
      const opts = { kernelSize: c.kernel, stride: c.stride, padding: c.padding };
      const [out, shape, grad] = scoped(() => {
        const y = kernelNorm2d(tensor4(x), opts);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(kernelNorm2d(t as tf.Tensor4D, opts), tf.tensor(Float32Array.from(probe), expected.out.shape))))(tensor4(x));
        return [read(y), y.shape, read(g)] as const;
      });
      expect(shape).toEqual(expected.out.shape);
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
      const [naiveGrad] = numericGradients((p) => dot(naiveKernelNorm2d({ shape: x.shape, data: p[0] }, naiveOptions(c)).out.data, probe), [x.data.slice()]);
      expectClose(grad, naiveGrad, 1e-3, 1e-4, 'dx');
    });

    it.each(windowCases)('knWindowMoments matches the naive window statistics: $name', (c) => {
      const x = array4(c.x, 5);
      const expected = naiveKernelNorm2d(x, naiveOptions(c));
      const [mean, variance] = scoped(() => {
        const m = knWindowMoments(tensor4(x), { kernelSize: c.kernel, stride: c.stride, padding: c.padding });
        return [read(m.mean), read(m.variance)];
      });
      expectClose(mean, expected.mean, 1e-5, 1e-6, 'mean');
      expectClose(variance, expected.variance, 1e-5, 1e-6, 'variance');
    });

    it('kernelNorm2d1x1 forward and gradient match the naive definition, with and without dropout', () => {
      const x = array4([2, 3, 2, 5], 8);
      const mask = scoped(() => read(dropoutMask(x.shape, 0.2, 9)));
      for (const m of [null, mask]) {
        const expected = naiveKernelNorm1x1(x, 1e-5, m);
        const probe = f32(normals(expected.out.data.length, 10));
        const opts = m ? { dropout: 0.2, seed: 9, training: true } : {};
        const [out, grad] = scoped(() => [
          read(kernelNorm2d1x1(tensor4(x), opts)),
          read(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(kernelNorm2d1x1(t as tf.Tensor4D, opts), tf.tensor(Float32Array.from(probe), x.shape))))(tensor4(x))),
        ]);
        expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
        const [naiveGrad] = numericGradients((p) => dot(naiveKernelNorm1x1({ shape: x.shape, data: p[0] }, 1e-5, m).out.data, probe), [x.data.slice()]);
        expectClose(grad, naiveGrad, 1e-3, 1e-4, 'dx');
      }
    });

    it('kernelNorm2d with dropout takes its statistics from the input with the same per-entry mask', () => {
      const c = windowCases[1];
      const x = array4(c.x, 12);
      const mask = scoped(() => read(dropoutMask(c.x, 0.3, 21)));
      const expected = naiveKernelNorm2d(x, naiveOptions(c, mask));
      const out = scoped(() => read(kernelNorm2d(tensor4(x), { kernelSize: c.kernel, stride: c.stride, padding: c.padding, dropout: 0.3, seed: 21, training: true })));
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
    });

    it('window variance stays accurate for inputs with a large offset (shifted moments)', () => {
      // Offset 1000, unit spread: E[x^2] ~ 1e6 where float32 steps by 0.06, so an unshifted E[x^2] - mean^2
      // would be off by several percent of the variance.
      for (const offset of [1e3, 1e4]) {
        const x = array4([2, 6, 6, 8], 13, 1, offset);
        const c: WindowCase = { name: 'offset', x: x.shape, kernel: [3, 3], stride: [1, 1], padding: 0 };
        const expected = naiveKernelNorm2d(x, naiveOptions(c));
        const variance = scoped(() => read(knWindowMoments(tensor4(x), { kernelSize: 3 }).variance));
        const relative = Math.max(...variance.map((v, i) => Math.abs(v - expected.variance[i]) / expected.variance[i]));
        // Float32 inputs at offset K carry their deviations to ulp(K) / 2, so the bound scales with K.
        expect(relative, `offset ${offset}: relative variance error ${relative}`).toBeLessThan(offset * 2e-7);
      }
    });
  });
}

describe('KNConv2d float32 finite differences (cpu)', () => {
  beforeAll(async () => {
    expect((await initBackend('cpu')).backend).toBe('cpu');
  });

  it('analytic gradients of knConv2d agree with central differences of the op itself', () => {
    const x = array4([1, 3, 3, 2], 50);
    const w = array4([2, 2, 2, 3], 51, 0.5);
    const b = f32(normals(3, 52));
    const probe = tf.tensor4d(Float32Array.from(normals(1 * 3 * 3 * 3, 53)), [1, 3, 3, 3]);
    const opts = { padding: [1, 0, 1, 0] as Padding4 };
    const loss = (xs: Float64Array, ws: Float64Array, bs: Float64Array): number => scoped(() =>
      tf.sum(tf.mul(knConv2d(tf.tensor4d(Float32Array.from(xs), x.shape), tf.tensor4d(Float32Array.from(ws), w.shape), tf.tensor1d(Float32Array.from(bs)), opts), probe)).dataSync()[0]);
    const analytic = scoped(() => tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      tf.sum(tf.mul(knConv2d(a as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor1D, opts), probe)))([tensor4(x), tensor4(w), tf.tensor1d(Float32Array.from(b))]).map(read));
    const h = 1e-2;
    const params = [x.data.slice(), w.data.slice(), b.slice()];
    params.forEach((p, k) => {
      const numeric = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const keep = p[i];
        p[i] = keep + h;
        const up = loss(params[0], params[1], params[2]);
        p[i] = keep - h;
        const down = loss(params[0], params[1], params[2]);
        p[i] = keep;
        numeric[i] = (up - down) / (2 * h);
      }
      // float32 central differences: rounding ~1e-6 / h plus h^2 curvature terms, so a loose relative bound.
      expectClose(analytic[k], numeric, 2e-2, 2e-3, ['dx', 'dweight', 'dbias'][k]);
    });
    probe.dispose();
  });
});

describe('no tensor leaks', () => {
  it('forward and backward of every KernelNorm op, with dropout, leave no tensors behind', async () => {
    await initBackend('cpu');
    const x = tf.randomNormal<tf.Rank.R4>([2, 5, 5, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4], 0, 1, 'float32', 2);
    const b = tf.zeros<tf.Rank.R1>([4]);
    const before = tf.memory().numTensors;
    const opts = { training: true, dropout: 0.1, seed: 3, statsSink: () => undefined };
    knConv2d(x, w, b, { ...opts, padding: 1 }).dispose();
    kernelNorm2d(x, { ...opts, kernelSize: 2, stride: 2, padding: [1, 0, 1, 0] }).dispose();
    kernelNorm2d1x1(x, opts).dispose();
    const m = knWindowMoments(x, { ...opts, kernelSize: 3 });
    tf.dispose([m.mean, m.variance]);
    tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => knConv2d(a as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor1D, { ...opts, padding: [2, 1, 2, 1] }).sum())([x, w, b]).forEach((g) => g.dispose());
    tf.grad((a: tf.Tensor) => kernelNorm2d(a as tf.Tensor4D, { ...opts, kernelSize: 3, stride: 2, padding: 1 }).sum())(x).dispose();
    tf.grad((a: tf.Tensor) => kernelNorm2d1x1(a as tf.Tensor4D, opts).sum())(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
