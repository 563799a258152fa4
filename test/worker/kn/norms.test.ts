import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { batchNorm2d, groupNorm2d, layerNorm2d } from '../../../src-worker/kn/norms';
import { BACKENDS, array4, expectClose, f32, normals, read, scoped, tensor4 } from './helpers';
import { dot, naiveBatchNorm, naiveGroupNorm, numericGradients } from './naive';

const vec = (v: Float64Array) => tf.tensor1d(Float32Array.from(v));

function affine(c: number, seed: number) {
  return { gamma: f32(normals(c, seed, 0.5, 1)), beta: f32(normals(c, seed + 1, 0.5)) };
}

for (const backend of BACKENDS) {
  describe(`baseline norms on ${backend}`, () => {
    beforeAll(async () => {
      expect((await initBackend(backend)).backend).toBe(backend);
    });

    it('batchNorm2d in training: output, gradients and the running-statistics update match PyTorch semantics', () => {
      const x = array4([3, 2, 3, 4], 1, 2, 0.5);
      const { gamma, beta } = affine(4, 2);
      const running = { mean: f32(normals(4, 4)), variance: f32(normals(4, 5, 0.1, 1)) };
      const expected = naiveBatchNorm(x, gamma, beta, running, { training: true, momentum: 0.1, eps: 1e-5 });
      const probe = f32(normals(x.data.length, 6));
      const vars = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
      const sunk: Float64Array[] = [];
      const out = scoped(() => read(batchNorm2d(tensor4(x), vec(gamma), vec(beta), vars,
        { training: true, statsSink: (kind, m, s) => { expect(kind).toBe('bn'); sunk.push(read(m), read(s)); } })));
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
      expectClose(read(vars.mean), expected.runningMean, 1e-5, 1e-6, 'running mean');
      expectClose(read(vars.variance), expected.runningVariance, 1e-5, 1e-6, 'running variance (unbiased)');
      // The hand computation for one channel: 0.9 * old + 0.1 * unbiased batch variance over 18 values.
      const channel0 = Array.from({ length: 18 }, (_, p) => x.data[p * 4]);
      const m0 = channel0.reduce((a, b) => a + b, 0) / 18;
      const unbiased0 = channel0.reduce((a, b) => a + (b - m0) ** 2, 0) / 17;
      expect(read(vars.variance)[0]).toBeCloseTo(0.9 * running.variance[0] + 0.1 * unbiased0, 5);
      expectClose(sunk[0], expected.mean, 1e-5, 1e-6, 'sunk mean');
      expectClose(sunk[1], expected.variance.map((v) => Math.sqrt(v + 1e-5)), 1e-5, 1e-6, 'sunk std');

      const grads = scoped(() => {
        const v = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
        const g = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(batchNorm2d(a as tf.Tensor4D, gm as tf.Tensor1D, bt as tf.Tensor1D, v, { training: true }),
          tf.tensor(Float32Array.from(probe), x.shape))))([tensor4(x), vec(gamma), vec(beta)]).map(read);
        tf.dispose([v.mean, v.variance]);
        return g;
      });
      const expectedGrads = numericGradients((p) => dot(naiveBatchNorm({ shape: x.shape, data: p[0] }, p[1], p[2], running,
        { training: true, momentum: 0.1, eps: 1e-5 }).out.data, probe), [x.data.slice(), gamma.slice(), beta.slice()]);
      ['dx', 'dgamma', 'dbeta'].forEach((what, i) => expectClose(grads[i], expectedGrads[i], 1e-3, 1e-4, what));
      tf.dispose([vars.mean, vars.variance]);
    });

    it('batchNorm2d in evaluation normalizes by the running statistics and leaves them alone', () => {
      const x = array4([2, 2, 2, 3], 7);
      const { gamma, beta } = affine(3, 8);
      const running = { mean: f32(normals(3, 9)), variance: f32(normals(3, 10, 0.1, 2)) };
      const expected = naiveBatchNorm(x, gamma, beta, running, { training: false, momentum: 0.1, eps: 1e-5 });
      const vars = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
      const out = scoped(() => read(batchNorm2d(tensor4(x), vec(gamma), vec(beta), vars, { training: false, momentum: 0.5 })));
      expectClose(out, expected.out.data, 1e-5, 1e-6, 'output');
      expectClose(read(vars.mean), running.mean, 0, 0, 'running mean unchanged');
      tf.dispose([vars.mean, vars.variance]);
    });

    it.each([[8, 4], [6, 3], [4, 1]])('groupNorm2d with %i channels in %i groups: output, statistics and gradients', (c, groups) => {
      const x = array4([2, 3, 2, c], 20 + c, 1.5, 0.3);
      const { gamma, beta } = affine(c, 30);
      const expected = naiveGroupNorm(x, gamma, beta, groups, 1e-5);
      const probe = f32(normals(x.data.length, 31));
      const sunk: { kind: string; mean: Float64Array; shape: number[] }[] = [];
      const out = scoped(() => read(groupNorm2d(tensor4(x), vec(gamma), vec(beta), groups,
        { statsSink: (kind, m) => sunk.push({ kind, mean: read(m), shape: m.shape }) })));
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
      expect(sunk[0].kind).toBe('gn');
      expect(sunk[0].shape).toEqual([2, groups]);
      expectClose(sunk[0].mean, expected.mean, 1e-5, 1e-6, 'group means');
      const grads = scoped(() => tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(groupNorm2d(a as tf.Tensor4D, gm as tf.Tensor1D, bt as tf.Tensor1D, groups),
        tf.tensor(Float32Array.from(probe), x.shape))))([tensor4(x), vec(gamma), vec(beta)]).map(read));
      const expectedGrads = numericGradients((p) => dot(naiveGroupNorm({ shape: x.shape, data: p[0] }, p[1], p[2], groups, 1e-5).out.data, probe),
        [x.data.slice(), gamma.slice(), beta.slice()]);
      ['dx', 'dgamma', 'dbeta'].forEach((what, i) => expectClose(grads[i], expectedGrads[i], 1e-3, 1e-4, what));
    });

    it('layerNorm2d is GroupNorm with one group and reports kind ln', () => {
      const x = array4([2, 2, 3, 4], 40);
      const { gamma, beta } = affine(4, 41);
      const kinds: string[] = [];
      const [ln, gn] = scoped(() => [
        read(layerNorm2d(tensor4(x), vec(gamma), vec(beta), { statsSink: (k) => kinds.push(k) })),
        read(groupNorm2d(tensor4(x), vec(gamma), vec(beta), 1)),
      ]);
      expect(ln).toEqual(gn);
      expect(kinds).toEqual(['ln']);
      expectClose(ln, naiveGroupNorm(x, gamma, beta, 1, 1e-5).out.data, 1e-4, 1e-5, 'output');
    });

    it('leaves no tensors behind', () => {
      const x = tf.randomNormal<tf.Rank.R4>([2, 3, 3, 4], 0, 1, 'float32', 1);
      const g = tf.ones<tf.Rank.R1>([4]);
      const b = tf.zeros<tf.Rank.R1>([4]);
      const running = { mean: tf.variable(tf.zeros([4])), variance: tf.variable(tf.ones([4])) };
      const before = tf.memory().numTensors;
      batchNorm2d(x, g, b, running, { training: true, statsSink: () => undefined }).dispose();
      batchNorm2d(x, g, b, running, { training: false }).dispose();
      tf.grads((a: tf.Tensor, c: tf.Tensor) => batchNorm2d(a as tf.Tensor4D, c as tf.Tensor1D, b, running, { training: true }).sum())([x, g]).forEach((t) => t.dispose());
      tf.grad((a: tf.Tensor) => groupNorm2d(a as tf.Tensor4D, g, b, 2).sum())(x).dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, g, b, running.mean, running.variance]);
    });
  });
}
