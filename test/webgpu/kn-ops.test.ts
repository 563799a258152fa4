// SwiftShader (software Vulkan) before the first initBackend('webgpu') in this process; an ICD already named wins.
import os from 'node:os';
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= os.tmpdir();

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { dropoutMask } from '../../src-worker/kn/dropout';
import { kernelNorm2d, kernelNorm2d1x1, knConv2d, knWindowMoments } from '../../src-worker/kn/ops';
import {
  array4, convCases, convFixture, expectClose, f32, naiveConvGradients, naiveOptions, normals, readAsync, scopedAsync,
  tensor4, windowCases, type WindowCase,
} from '../worker/kn/helpers';
import { dot, naiveKernelNorm1x1, naiveKernelNorm2d, naiveKnConv2d, numericGradients, type Array4 } from '../worker/kn/naive';
import { useWebGpu } from './webgpu';

// The same cases, seeds and tolerances as test/worker/kn (ops.test.ts, kernel-norm.test.ts), every read async:
// on webgpu in Node, dataSync throws.

useWebGpu();

const bias1d = (b: Float64Array | null): tf.Tensor1D | null => (b ? tf.tensor1d(Float32Array.from(b)) : null);

async function ourConvGradients(x: Array4, weight: Array4, bias: Float64Array | null, probe: Float64Array, probeShape: number[],
  opts: Parameters<typeof knConv2d>[3]): Promise<Float64Array[]> {
  return scopedAsync(async () => {
    const inputs = [tensor4(x), tensor4(weight), ...(bias ? [bias1d(bias)!] : [])];
    const p = tf.tensor(Float32Array.from(probe), probeShape);
    const loss = (...t: tf.Tensor[]) => tf.sum(tf.mul(knConv2d(t[0] as tf.Tensor4D, t[1] as tf.Tensor4D, (t[2] ?? null) as tf.Tensor1D | null, opts), p));
    return Promise.all(tf.grads(loss)(inputs).map(readAsync));
  });
}

const maskOf = (shape: number[], rate: number, seed: number): Promise<Float64Array> =>
  scopedAsync(() => readAsync(dropoutMask(shape, rate, seed)));

describe('knConv2d on webgpu', () => {
  it.each(convCases)('forward and window statistics match the naive definition: $name', async (c) => {
    const { x, weight, bias } = convFixture(c, 11);
    const expected = naiveKnConv2d(x, weight, bias, naiveOptions(c));
    const seen: { kind: string; mean: tf.Tensor; std: tf.Tensor }[] = [];
    const out = await scopedAsync(() => readAsync(knConv2d(tensor4(x), tensor4(weight), bias1d(bias), {
      stride: c.stride, padding: c.padding,
      statsSink: (kind, mean, std) => seen.push({ kind, mean: tf.keep(mean.clone()), std: tf.keep(std.clone()) }),
    })));
    expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
    expect(seen).toHaveLength(1);
    expect(seen[0].kind).toBe('kn');
    const [mean, std] = await Promise.all([readAsync(seen[0].mean), readAsync(seen[0].std)]);
    tf.dispose([seen[0].mean, seen[0].std]);
    expectClose(mean, expected.mean, 1e-5, 1e-6, 'window means');
    expectClose(std, expected.variance.map((v) => Math.sqrt(v + 1e-5)), 1e-5, 1e-6, 'window stds');
  });

  it.each(convCases)('gradients w.r.t. x, weight and bias match the naive definition: $name', async (c) => {
    const { x, weight, bias } = convFixture(c, 23);
    const o = naiveOptions(c);
    const outShape = naiveKnConv2d(x, weight, bias, o).out.shape;
    const probe = f32(normals(outShape.reduce((a, b) => a * b, 1), 99));
    const expected = naiveConvGradients(x, weight, bias, o, probe);
    const actual = await ourConvGradients(x, weight, bias, probe, outShape, { stride: c.stride, padding: c.padding });
    ['dx', 'dweight', 'dbias'].slice(0, expected.length).forEach((what, i) => expectClose(actual[i], expected[i], 1e-3, 1e-4, what));
  });

  it('with dropout: statistics see the dropped-out input, the convolution the original one; gradients match', async () => {
    const c = convCases[4];
    const { x, weight, bias } = convFixture(c, 31);
    const mask = await maskOf(c.x, 0.3, 1234);
    const run = (training: boolean) => scopedAsync(() => readAsync(knConv2d(tensor4(x), tensor4(weight), bias1d(bias),
      { stride: c.stride, padding: c.padding, dropout: 0.3, seed: 1234, training })));
    expectClose(await run(true), naiveKnConv2d(x, weight, bias, naiveOptions(c, mask)).out.data, 1e-4, 1e-5, 'output with the same mask');
    expectClose(await run(false), naiveKnConv2d(x, weight, bias, naiveOptions(c)).out.data, 1e-4, 1e-5, 'evaluation ignores dropout');

    const g = convCases[1];
    const fx = convFixture(g, 41);
    const gradMask = await maskOf(g.x, 0.25, 77);
    const o = naiveOptions(g, gradMask);
    const outShape = naiveKnConv2d(fx.x, fx.weight, fx.bias, o).out.shape;
    const probe = f32(normals(outShape.reduce((a, b) => a * b, 1), 5));
    const expected = naiveConvGradients(fx.x, fx.weight, fx.bias, o, probe);
    const actual = await ourConvGradients(fx.x, fx.weight, fx.bias, probe, outShape, { padding: g.padding, dropout: 0.25, seed: 77, training: true });
    ['dx', 'dweight', 'dbias'].forEach((what, i) => expectClose(actual[i], expected[i], 1e-3, 1e-4, what));
  });
});

describe('KernelNorm ops on webgpu', () => {
  it.each(windowCases)('kernelNorm2d forward and gradient match the naive definition: $name', async (c) => {
    const x = array4(c.x, 3);
    const expected = naiveKernelNorm2d(x, naiveOptions(c));
    const probe = f32(normals(expected.out.data.length, 4));
    const opts = { kernelSize: c.kernel, stride: c.stride, padding: c.padding };
    const [out, shape, grad] = await scopedAsync(async () => {
      const y = kernelNorm2d(tensor4(x), opts);
      const p = tf.tensor(Float32Array.from(probe), expected.out.shape);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(kernelNorm2d(t as tf.Tensor4D, opts), p)))(tensor4(x));
      return [await readAsync(y), y.shape, await readAsync(g)] as const;
    });
    expect(shape).toEqual(expected.out.shape);
    expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
    const [naiveGrad] = numericGradients((p) => dot(naiveKernelNorm2d({ shape: x.shape, data: p[0] }, naiveOptions(c)).out.data, probe), [x.data.slice()]);
    expectClose(grad, naiveGrad, 1e-3, 1e-4, 'dx');
  });

  it.each(windowCases)('knWindowMoments matches the naive window statistics: $name', async (c) => {
    const x = array4(c.x, 5);
    const expected = naiveKernelNorm2d(x, naiveOptions(c));
    const [mean, variance] = await scopedAsync(async () => {
      const m = knWindowMoments(tensor4(x), { kernelSize: c.kernel, stride: c.stride, padding: c.padding });
      return [await readAsync(m.mean), await readAsync(m.variance)];
    });
    expectClose(mean, expected.mean, 1e-5, 1e-6, 'mean');
    expectClose(variance, expected.variance, 1e-5, 1e-6, 'variance');
  });

  it('kernelNorm2d1x1 forward and gradient match the naive definition, with and without dropout', async () => {
    const x = array4([2, 3, 2, 5], 8);
    const mask = await maskOf(x.shape, 0.2, 9);
    for (const m of [null, mask]) {
      const expected = naiveKernelNorm1x1(x, 1e-5, m);
      const probe = f32(normals(expected.out.data.length, 10));
      const opts = m ? { dropout: 0.2, seed: 9, training: true } : {};
      const [out, grad] = await scopedAsync(async () => {
        const p = tf.tensor(Float32Array.from(probe), x.shape);
        return [
          await readAsync(kernelNorm2d1x1(tensor4(x), opts)),
          await readAsync(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(kernelNorm2d1x1(t as tf.Tensor4D, opts), p)))(tensor4(x))),
        ];
      });
      expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
      const [naiveGrad] = numericGradients((p) => dot(naiveKernelNorm1x1({ shape: x.shape, data: p[0] }, 1e-5, m).out.data, probe), [x.data.slice()]);
      expectClose(grad, naiveGrad, 1e-3, 1e-4, 'dx');
    }
  });

  it('kernelNorm2d with dropout takes its statistics from the input with the same per-entry mask', async () => {
    const c = windowCases[1];
    const x = array4(c.x, 12);
    const mask = await maskOf(c.x, 0.3, 21);
    const expected = naiveKernelNorm2d(x, naiveOptions(c, mask));
    const out = await scopedAsync(() => readAsync(kernelNorm2d(tensor4(x), { kernelSize: c.kernel, stride: c.stride, padding: c.padding, dropout: 0.3, seed: 21, training: true })));
    expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
  });

  it('window variance stays accurate for inputs with a large offset (shifted moments)', async () => {
    for (const offset of [1e3, 1e4]) {
      const x = array4([2, 6, 6, 8], 13, 1, offset);
      const c: WindowCase = { name: 'offset', x: x.shape, kernel: [3, 3], stride: [1, 1], padding: 0 };
      const expected = naiveKernelNorm2d(x, naiveOptions(c));
      const variance = await scopedAsync(() => readAsync(knWindowMoments(tensor4(x), { kernelSize: 3 }).variance));
      const relative = Math.max(...variance.map((v, i) => Math.abs(v - expected.variance[i]) / expected.variance[i]));
      expect(relative, `offset ${offset}: relative variance error ${relative}`).toBeLessThan(offset * 2e-7);
    }
  });

  it('forward and backward of every KernelNorm op, with dropout, leave no tensors behind', async () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 5, 5, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4], 0, 1, 'float32', 2);
    const b = tf.zeros<tf.Rank.R1>([4]);
    const before = tf.memory().numTensors;
    const opts = { training: true, dropout: 0.1, seed: 3, statsSink: () => undefined };
    const results: tf.Tensor[] = [
      knConv2d(x, w, b, { ...opts, padding: 1 }),
      kernelNorm2d(x, { ...opts, kernelSize: 2, stride: 2, padding: [1, 0, 1, 0] }),
      kernelNorm2d1x1(x, opts),
      ...Object.values(knWindowMoments(x, { ...opts, kernelSize: 3 })),
      ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => knConv2d(a as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor1D, { ...opts, padding: [2, 1, 2, 1] }).sum())([x, w, b]),
      tf.grad((a: tf.Tensor) => kernelNorm2d(a as tf.Tensor4D, { ...opts, kernelSize: 3, stride: 2, padding: 1 }).sum())(x),
      tf.grad((a: tf.Tensor) => kernelNorm2d1x1(a as tf.Tensor4D, opts).sum())(x),
    ];
    // Read before disposing, so the GPU work has run when the count is taken.
    for (const t of results) expect((await t.data()).every(Number.isFinite)).toBe(true);
    tf.dispose(results);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
