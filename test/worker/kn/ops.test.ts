import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { dropoutMask } from '../../../src-worker/kn/dropout';
import { kernelNorm2d, kernelNorm2d1x1, knConv2d, knWindowMoments, type Padding4 } from '../../../src-worker/kn/ops';
import { resolvePadding } from '../../../src-worker/kn/validate';
import { BACKENDS, array4, expectClose, f32, normals, read, scoped, tensor4 } from './helpers';
import { dot, naiveKernelNorm1x1, naiveKernelNorm2d, naiveKnConv2d, numericGradients, type Array4, type NaiveWindowOptions } from './naive';

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  kernel: [number, number];
  out: number;
  stride: number | [number, number];
  padding: Padding4;
  bias?: boolean;
}

const convCases: ConvCase[] = [
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

function naiveOptions(c: { kernel: [number, number]; stride: number | [number, number]; padding: Padding4 }, mask: Float64Array | null = null): NaiveWindowOptions {
  const stride: [number, number] = typeof c.stride === 'number' ? [c.stride, c.stride] : c.stride;
  return { kernel: c.kernel, stride, padding: resolvePadding('test', c.padding), eps: 1e-5, mask };
}

function convFixture(c: ConvCase, seed: number) {
  const x = array4(c.x, seed);
  const weight = array4([c.kernel[0], c.kernel[1], c.x[3], c.out], seed + 1, 0.5);
  const bias = c.bias === false ? null : f32(normals(c.out, seed + 2));
  return { x, weight, bias };
}

/** Naive gradients of sum(out * probe) w.r.t. x, weight (and bias), by float64 central differences. */
function naiveConvGradients(x: Array4, weight: Array4, bias: Float64Array | null, o: NaiveWindowOptions, probe: Float64Array): Float64Array[] {
  const params = bias ? [x.data.slice(), weight.data.slice(), bias.slice()] : [x.data.slice(), weight.data.slice()];
  return numericGradients((p) => dot(naiveKnConv2d({ shape: x.shape, data: p[0] }, { shape: weight.shape, data: p[1] }, bias ? p[2] : null, o).out.data, probe), params);
}

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
