import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { dropoutMask } from '../../../src-worker/kn/dropout';
import { knConv2d } from '../../../src-worker/kn/ops';
import { BACKENDS, convCases, convFixture, expectClose, f32, naiveConvGradients, naiveOptions, normals, read, scoped, tensor4 } from './helpers';
import { naiveKnConv2d, type Array4 } from './naive';

function ourConvGradients(x: Array4, weight: Array4, bias: Float64Array | null, probe: tf.Tensor, opts: Parameters<typeof knConv2d>[3]): Float64Array[] {
  return scoped(() => {
    const inputs = [tensor4(x), tensor4(weight), ...(bias ? [tf.tensor1d(Float32Array.from(bias))] : [])];
    const loss = (...t: tf.Tensor[]) => tf.sum(tf.mul(knConv2d(t[0] as tf.Tensor4D, t[1] as tf.Tensor4D, (t[2] ?? null) as tf.Tensor1D | null, opts), probe));
    return tf.grads(loss)(inputs).map(read);
  });
}

for (const backend of BACKENDS) {
  describe(`knConv2d on ${backend}`, () => {
    beforeAll(async () => {
      const chosen = await initBackend(backend);
      expect(chosen.backend).toBe(backend);
    });

    it.each(convCases)('forward and window statistics match the naive definition: $name', (c) => {
      const { x, weight, bias } = convFixture(c, 11);
      const expected = naiveKnConv2d(x, weight, bias, naiveOptions(c));
      const seen: { mean: Float64Array; std: Float64Array; kind: string }[] = [];
      const out = scoped(() => read(knConv2d(tensor4(x), tensor4(weight), bias ? tf.tensor1d(Float32Array.from(bias)) : null, {
        stride: c.stride, padding: c.padding,
        statsSink: (kind, mean, std) => seen.push({ kind, mean: read(mean), std: read(std) }),
      })));
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
      expect(seen).toHaveLength(1);
      expect(seen[0].kind).toBe('kn');
      expectClose(seen[0].mean, expected.mean, 1e-5, 1e-6, 'window means');
      expectClose(seen[0].std, expected.variance.map((v) => Math.sqrt(v + 1e-5)), 1e-5, 1e-6, 'window stds');
    });

    it.each(convCases)('gradients w.r.t. x, weight and bias match the naive definition: $name', (c) => {
      const { x, weight, bias } = convFixture(c, 23);
      const o = naiveOptions(c);
      const [, oh, ow] = naiveKnConv2d(x, weight, bias, o).out.shape;
      const probe = f32(normals(c.x[0] * oh * ow * c.out, 99));
      const expected = naiveConvGradients(x, weight, bias, o, probe);
      const probeTensor = tf.tensor4d(Float32Array.from(probe), [c.x[0], oh, ow, c.out]);
      const actual = ourConvGradients(x, weight, bias, probeTensor, { stride: c.stride, padding: c.padding });
      probeTensor.dispose();
      ['dx', 'dweight', 'dbias'].slice(0, expected.length).forEach((what, i) => expectClose(actual[i], expected[i], 1e-3, 1e-4, what));
    });

    it('statistics see the dropped-out input and the convolution the original one', () => {
      const c = convCases[4];
      const { x, weight, bias } = convFixture(c, 31);
      const rate = 0.3;
      const mask = scoped(() => read(dropoutMask(c.x, rate, 1234)));
      const withMask = naiveKnConv2d(x, weight, bias, naiveOptions(c, mask));
      const withoutMask = naiveKnConv2d(x, weight, bias, naiveOptions(c));
      const run = (training: boolean, seed: number) => scoped(() => read(knConv2d(tensor4(x), tensor4(weight), tf.tensor1d(Float32Array.from(bias!)),
        { stride: c.stride, padding: c.padding, dropout: rate, seed, training })));
      const trained = run(true, 1234);
      expectClose(trained, withMask.out.data, 1e-4, 1e-5, 'output with the same mask');
      // The fixture is such that dropout visibly changes the output (else the check above proves nothing).
      expect(Math.max(...withMask.out.data.map((v, i) => Math.abs(v - withoutMask.out.data[i])))).toBeGreaterThan(0.05);
      expect(run(true, 1234)).toEqual(trained);
      expect(run(true, 1235)).not.toEqual(trained);
      expectClose(run(false, 1234), withoutMask.out.data, 1e-4, 1e-5, 'evaluation ignores dropout');
    });

    it('gradients with dropout match the naive definition with the same mask (the mask gets no gradient)', () => {
      const c = convCases[1];
      const { x, weight, bias } = convFixture(c, 41);
      const rate = 0.25;
      const mask = scoped(() => read(dropoutMask(c.x, rate, 77)));
      const o = naiveOptions(c, mask);
      const [, oh, ow] = naiveKnConv2d(x, weight, bias, o).out.shape;
      const probe = f32(normals(c.x[0] * oh * ow * c.out, 5));
      const expected = naiveConvGradients(x, weight, bias, o, probe);
      const probeTensor = tf.tensor4d(Float32Array.from(probe), [c.x[0], oh, ow, c.out]);
      const actual = ourConvGradients(x, weight, bias, probeTensor, { padding: c.padding, dropout: rate, seed: 77, training: true });
      probeTensor.dispose();
      ['dx', 'dweight', 'dbias'].forEach((what, i) => expectClose(actual[i], expected[i], 1e-3, 1e-4, what));
    });
  });
}
