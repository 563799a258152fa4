// SwiftShader (software Vulkan) before the first initBackend('webgpu') in this process; an ICD already named wins.
import os from 'node:os';
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= os.tmpdir();

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { mish, relu } from '../../src-worker/kn/activations';
import { dropoutMask } from '../../src-worker/kn/dropout';
import { batchNorm2d, groupNorm2d, layerNorm2d } from '../../src-worker/kn/norms';
import { knConv2d } from '../../src-worker/kn/ops';
import { readNormStats, sampleNormStats, summarizeNormStats, summarizeNormStatsAsync, type PendingNormStats } from '../../src-worker/kn/stats';
import { array4, expectClose, f32, normals, readAsync, scopedAsync, tensor4 } from '../worker/kn/helpers';
import { dot, naiveBatchNorm, naiveGroupNorm, naiveMish, numericGradients } from '../worker/kn/naive';
import { useWebGpu } from './webgpu';

// The baselines, activations, dropout masks and the stats read path on webgpu, as test/worker/kn checks them
// on cpu and wasm; every read async (dataSync throws on webgpu in Node).

const vec = (v: Float64Array) => tf.tensor1d(Float32Array.from(v));
const affine = (c: number, seed: number) => ({ gamma: f32(normals(c, seed, 0.5, 1)), beta: f32(normals(c, seed + 1, 0.5)) });

useWebGpu();

describe('baseline norms on webgpu', () => {
  it('batchNorm2d in training: output, gradients and the running-statistics update match PyTorch semantics', async () => {
    const x = array4([3, 2, 3, 4], 1, 2, 0.5);
    const { gamma, beta } = affine(4, 2);
    const running = { mean: f32(normals(4, 4)), variance: f32(normals(4, 5, 0.1, 1)) };
    const expected = naiveBatchNorm(x, gamma, beta, running, { training: true, momentum: 0.1, eps: 1e-5 });
    const probe = f32(normals(x.data.length, 6));
    const vars = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
    const out = await scopedAsync(() => readAsync(batchNorm2d(tensor4(x), vec(gamma), vec(beta), vars, { training: true })));
    expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
    expectClose(await readAsync(vars.mean), expected.runningMean, 1e-5, 1e-6, 'running mean');
    expectClose(await readAsync(vars.variance), expected.runningVariance, 1e-5, 1e-6, 'running variance (unbiased)');
    tf.dispose([vars.mean, vars.variance]);

    const grads = await scopedAsync(async () => {
      const v = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
      const p = tf.tensor(Float32Array.from(probe), x.shape);
      const g = await Promise.all(tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(
        batchNorm2d(a as tf.Tensor4D, gm as tf.Tensor1D, bt as tf.Tensor1D, v, { training: true }), p)))([tensor4(x), vec(gamma), vec(beta)]).map(readAsync));
      tf.dispose([v.mean, v.variance]);
      return g;
    });
    const expectedGrads = numericGradients((p) => dot(naiveBatchNorm({ shape: x.shape, data: p[0] }, p[1], p[2], running,
      { training: true, momentum: 0.1, eps: 1e-5 }).out.data, probe), [x.data.slice(), gamma.slice(), beta.slice()]);
    ['dx', 'dgamma', 'dbeta'].forEach((what, i) => expectClose(grads[i], expectedGrads[i], 1e-3, 1e-4, what));
  });

  it('batchNorm2d in evaluation normalizes by the running statistics', async () => {
    const x = array4([2, 2, 2, 3], 7);
    const { gamma, beta } = affine(3, 8);
    const running = { mean: f32(normals(3, 9)), variance: f32(normals(3, 10, 0.1, 2)) };
    const expected = naiveBatchNorm(x, gamma, beta, running, { training: false, momentum: 0.1, eps: 1e-5 });
    const vars = { mean: tf.variable(vec(running.mean)), variance: tf.variable(vec(running.variance)) };
    const out = await scopedAsync(() => readAsync(batchNorm2d(tensor4(x), vec(gamma), vec(beta), vars, { training: false })));
    expectClose(out, expected.out.data, 1e-5, 1e-6, 'output');
    tf.dispose([vars.mean, vars.variance]);
  });

  it.each([[8, 4], [6, 3], [4, 1]])('groupNorm2d with %i channels in %i groups: output and gradients', async (c, groups) => {
    const x = array4([2, 3, 2, c], 20 + c, 1.5, 0.3);
    const { gamma, beta } = affine(c, 30);
    const expected = naiveGroupNorm(x, gamma, beta, groups, 1e-5);
    const probe = f32(normals(x.data.length, 31));
    const [out, grads] = await scopedAsync(async () => {
      const p = tf.tensor(Float32Array.from(probe), x.shape);
      const y = groupNorm2d(tensor4(x), vec(gamma), vec(beta), groups);
      const g = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(
        groupNorm2d(a as tf.Tensor4D, gm as tf.Tensor1D, bt as tf.Tensor1D, groups), p)))([tensor4(x), vec(gamma), vec(beta)]);
      return [await readAsync(y), await Promise.all(g.map(readAsync))] as const;
    });
    expectClose(out, expected.out.data, 1e-4, 1e-5, 'output');
    const expectedGrads = numericGradients((p) => dot(naiveGroupNorm({ shape: x.shape, data: p[0] }, p[1], p[2], groups, 1e-5).out.data, probe),
      [x.data.slice(), gamma.slice(), beta.slice()]);
    ['dx', 'dgamma', 'dbeta'].forEach((what, i) => expectClose(grads[i], expectedGrads[i], 1e-3, 1e-4, what));
  });

  it('layerNorm2d matches GroupNorm with one group', async () => {
    const x = array4([2, 2, 3, 4], 40);
    const { gamma, beta } = affine(4, 41);
    const out = await scopedAsync(() => readAsync(layerNorm2d(tensor4(x), vec(gamma), vec(beta))));
    expectClose(out, naiveGroupNorm(x, gamma, beta, 1, 1e-5).out.data, 1e-4, 1e-5, 'output');
  });
});

describe('activations on webgpu', () => {
  it('mish matches x tanh(softplus(x)) and its derivative', async () => {
    const x = f32(normals(200, 1, 4));
    const [y, dy] = await scopedAsync(async () => [
      await readAsync(mish(tf.tensor1d(Float32Array.from(x)))),
      await readAsync(tf.grad((t: tf.Tensor) => mish(t))(tf.tensor1d(Float32Array.from(x)))),
    ]);
    expectClose(y, x.map(naiveMish), 1e-5, 1e-6, 'mish');
    const h = 1e-6;
    expectClose(dy, x.map((v) => (naiveMish(v + h) - naiveMish(v - h)) / (2 * h)), 1e-4, 1e-5, "mish'");
  });

  it('mish and its gradient stay finite at large |x|', async () => {
    const x = [-1e4, -500, -90, -20, 20, 90, 500, 1e4];
    const [y, dy] = await scopedAsync(async () => [
      await readAsync(mish(tf.tensor1d(x))), await readAsync(tf.grad((t: tf.Tensor) => mish(t))(tf.tensor1d(x))),
    ]);
    expect(Array.from(y).every(Number.isFinite)).toBe(true);
    expect(Array.from(dy).every(Number.isFinite)).toBe(true);
    expect(Array.from(y.slice(4))).toEqual([20, 90, 500, 1e4]);
    expect(Array.from(dy.slice(5))).toEqual([1, 1, 1]);
    for (const v of y.slice(0, 3)) expect(Math.abs(v)).toBeLessThan(1e-30);
  });

  it('relu clips negatives and passes gradient only where x > 0', async () => {
    const [y, dy] = await scopedAsync(async () => [
      await readAsync(relu(tf.tensor1d([-2, -0.5, 0.5, 3]))), await readAsync(tf.grad((t: tf.Tensor) => relu(t))(tf.tensor1d([-2, -0.5, 0.5, 3]))),
    ]);
    expect(Array.from(y)).toEqual([0, 0, 0.5, 3]);
    expect(Array.from(dy)).toEqual([0, 0, 1, 1]);
  });
});

describe('dropoutMask on webgpu', () => {
  it('is the same mask as on cpu', async () => {
    const shapes = [[4, 50, 50, 10], [3, 7, 5, 2]];
    const onGpu = await scopedAsync(() => Promise.all(shapes.map((s) => readAsync(dropoutMask(s, 0.05, 42)))));
    await tf.setBackend('cpu');
    let onCpu: Float64Array[];
    try {
      onCpu = await scopedAsync(() => Promise.all(shapes.map((s) => readAsync(dropoutMask(s, 0.05, 42)))));
    } finally {
      await tf.setBackend('webgpu');
    }
    shapes.forEach((_, i) => expect(onGpu[i]).toEqual(onCpu[i]));
  });
});

describe('normalization statistics on webgpu', () => {
  it('sampleNormStats + readNormStats summarize what a knConv2d sink receives, without sync reads', async () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 6, 6, 3], 2, 3, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4], 0, 1, 'float32', 2);
    const pending: PendingNormStats[] = [];
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      knConv2d(x, w, null, { padding: 1, statsSink: (kind, mean, std) => pending.push(sampleNormStats('block0.conv', kind, mean, std)) });
      knConv2d(x, w, null, { padding: 1, statsSink: (kind, mean, std) => pending.push(sampleNormStats('block1.conv', kind, mean, std, 10)) });
    });
    // The pending samples outlive the forward's tidy until readNormStats has read and disposed them.
    expect(tf.memory().numTensors).toBe(before + 2);
    const stats = await readNormStats(pending);
    expect(tf.memory().numTensors).toBe(before);
    expect(stats.map((s) => [s.layer, s.kind])).toEqual([['block0.conv', 'kn'], ['block1.conv', 'kn']]);
    expect(stats[0].mean.histogram.counts.reduce((a, b) => a + b, 0)).toBe(2 * 6 * 6);
    expect(stats[1].std.histogram.counts.reduce((a, b) => a + b, 0)).toBe(9); // every 8th of 72 windows
    expect(stats[0].std.min).toBeGreaterThan(0);
    expect(stats[0].mean.mean).toBeGreaterThan(0.5);

    // The same summaries as the synchronous path gives on cpu.
    const [xs, ws] = await Promise.all([x.data(), w.data()]);
    await tf.setBackend('cpu');
    try {
      const xc = tf.tensor4d(xs, x.shape);
      const wc = tf.tensor4d(ws, w.shape);
      const onCpu: ReturnType<typeof summarizeNormStats>[] = [];
      tf.tidy(() => {
        knConv2d(xc, wc, null, { padding: 1, statsSink: (kind, mean, std) => onCpu.push(summarizeNormStats('block0.conv', kind, mean, std)) });
      });
      expectClose(stats[0].mean.percentiles, onCpu[0].mean.percentiles, 1e-5, 1e-6, 'mean percentiles');
      expectClose(stats[0].std.percentiles, onCpu[0].std.percentiles, 1e-5, 1e-6, 'std percentiles');
      tf.dispose([xc, wc]);
    } finally {
      await tf.setBackend('webgpu');
    }
    tf.dispose([x, w]);
  });

  it('summarizeNormStatsAsync reads a deterministic strided subsample', async () => {
    const mean = tf.range(0, 10000, 1, 'float32');
    const std = tf.fill([10000], 3);
    const s = await summarizeNormStatsAsync('l', 'bn', mean, std, 1000);
    expect(s.mean.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect([s.mean.min, s.mean.max, s.std.mean]).toEqual([0, 9990, 3]);
    await expect(summarizeNormStatsAsync('l', 'bn', mean, tf.tidy(() => tf.ones([3])), 10)).rejects.toThrow('summarizeNormStatsAsync: mean and std of layer l must have the same size');
    tf.dispose([mean, std]);
  });
});

describe('no tensor leaks on webgpu', () => {
  it('baseline norms and activations, forward and backward', async () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 3, 3, 4], 0, 1, 'float32', 1);
    const g = tf.ones<tf.Rank.R1>([4]);
    const b = tf.zeros<tf.Rank.R1>([4]);
    const running = { mean: tf.variable(tf.zeros([4])), variance: tf.variable(tf.ones([4])) };
    const before = tf.memory().numTensors;
    const results: tf.Tensor[] = [
      batchNorm2d(x, g, b, running, { training: true, statsSink: () => undefined }),
      batchNorm2d(x, g, b, running, { training: false }),
      ...tf.grads((a: tf.Tensor, c: tf.Tensor) => batchNorm2d(a as tf.Tensor4D, c as tf.Tensor1D, b, running, { training: true }).sum())([x, g]),
      tf.grad((a: tf.Tensor) => groupNorm2d(a as tf.Tensor4D, g, b, 2).sum())(x),
      tf.grad((a: tf.Tensor) => layerNorm2d(a as tf.Tensor4D, g, b).sum())(x),
      mish(x), tf.grad((t: tf.Tensor) => mish(t))(x), tf.grad((t: tf.Tensor) => relu(t))(x),
    ];
    for (const t of results) expect((await t.data()).every(Number.isFinite)).toBe(true);
    tf.dispose(results);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b, running.mean, running.variance]);
  });
});
