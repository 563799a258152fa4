import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import seedrandom from 'seedrandom';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-worker/backend';
import { builtinWasmKernel, registerWasmTrainingKernels, wasmTrainingKernelNames } from '../../src-worker/wasm-kernels';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** Deterministic values in [-1, 1): inputs are rebuilt from these on each backend. */
function values(size: number, seed: string): Float32Array {
  const rng = seedrandom(seed);
  return Float32Array.from({ length: size }, () => rng() * 2 - 1);
}

function tensor4(shape: Shape4, seed: string): tf.Tensor4D {
  return tf.tensor4d(values(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** Runs `compute` on each backend in turn and returns both results; wasm stays active afterwards. */
async function onBothBackends<T>(compute: () => T): Promise<{ wasm: T; cpu: T }> {
  await tf.setBackend('cpu');
  const cpu = compute();
  await tf.setBackend('wasm');
  const wasm = compute();
  return { wasm, cpu };
}

/** max |a − b| over max |b|: the error relative to the reference's scale. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Pad;
}

/** dx and dW of Σ conv2d(x, w) ⊙ r, with r fixed so dy is not uniform. */
function convGradients(c: ConvCase, seed: string): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tensor4(c.x, `${seed}x`);
    const w = tensor4(c.filter, `${seed}w`);
    const outShape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const r = tensor4(outShape, `${seed}r`);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad).mul(r).sum())([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function describeCase(c: ConvCase): string {
  return `x ${c.x.join('x')} w ${c.filter.join('x')} s${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`;
}

const explicit = (top: number, bottom: number, left: number, right: number): Pad => [[0, 0], [top, bottom], [left, right], [0, 0]];

const NAMED_CASES: ConvCase[] = [
  { x: [2, 8, 8, 4], filter: [3, 3, 4, 5], strides: 1, pad: 'same' },
  { x: [3, 9, 7, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'same' },
  { x: [1, 9, 9, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid' },
  { x: [4, 6, 6, 16], filter: [1, 1, 16, 8], strides: 1, pad: 'valid' }, // 1x1 dW as a matmul, x has more channels
  { x: [2, 5, 3, 4], filter: [1, 1, 4, 12], strides: 1, pad: 'same' }, // ... and dy has more
  { x: [2, 5, 5, 4], filter: [1, 1, 4, 6], strides: 1, pad: explicit(1, 0, 0, 1) }, // 1x1 with padding: conv form
  { x: [2, 7, 7, 16], filter: [1, 1, 16, 16], strides: 2, pad: 'valid' },
  { x: [2, 13, 13, 3], filter: [7, 7, 3, 8], strides: 2, pad: explicit(3, 3, 3, 3) },
  { x: [3, 7, 9, 4], filter: [2, 2, 4, 3], strides: 1, pad: explicit(1, 0, 1, 0) },
  { x: [2, 9, 11, 4], filter: [3, 3, 4, 3], strides: 2, pad: explicit(2, 1, 2, 1) },
  { x: [2, 8, 8, 6], filter: [2, 2, 6, 6], strides: 2, pad: explicit(1, 0, 1, 0) },
  { x: [1, 3, 3, 2], filter: [5, 5, 2, 3], strides: 1, pad: 'same' }, // kernel wider than the input
  { x: [2, 2, 3, 1], filter: [7, 7, 1, 4], strides: 2, pad: explicit(3, 3, 3, 3) }, // kernel wider than the input
  { x: [1, 5, 6, 2], filter: [3, 3, 2, 2], strides: 1, pad: explicit(4, 0, 0, 4) }, // windows wholly in padding
  { x: [1, 6, 5, 1], filter: [3, 2, 1, 1], strides: [2, 1], pad: explicit(1, 1, 0, 1) }, // unequal strides
  { x: [1, 1, 1, 3], filter: [1, 1, 3, 2], strides: 1, pad: 'valid' },
];

/** Random small convolutions over the attrs tfjs can pass; cases with an empty output are redrawn. */
function randomCases(count: number, seed: string): ConvCase[] {
  const rng = seedrandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  const pick = <T>(options: readonly T[]): T => options[int(0, options.length - 1)];
  const cases: ConvCase[] = [];
  while (cases.length < count) {
    const k = pick([1, 2, 3, 7] as const);
    const stride = pick([1, 2] as const);
    const padKind = pick(['same', 'valid', 'explicit'] as const);
    const pad: Pad = padKind === 'explicit' ? explicit(int(0, k), int(0, k), int(0, k), int(0, k)) : padKind;
    const c: ConvCase = { x: [int(1, 4), int(1, 11), int(1, 11), int(1, 16)], filter: [k, k, 0, int(1, 16)], strides: stride, pad };
    c.filter[2] = c.x[3];
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
    if (info.outHeight > 0 && info.outWidth > 0) cases.push(c);
  }
  return cases;
}

beforeAll(async () => {
  const choice = await initBackend('wasm');
  expect(choice.backend).toBe('wasm');
});

describe('wasm conv2d gradients match the cpu backend', () => {
  const cases = [...NAMED_CASES, ...randomCases(40, 'conv-grads')];
  it.each(cases.map((c, i) => [describeCase(c), c, i] as const))('%s', async (_name, c, i) => {
    const { wasm, cpu } = await onBothBackends(() => convGradients(c, `case${i}`));
    expect(relativeError(wasm.dx, cpu.dx)).toBeLessThan(1e-4);
    expect(relativeError(wasm.dw, cpu.dw)).toBeLessThan(1e-4);
  });

  it('honours dimRoundingMode and numeric pads passed straight to the kernels', async () => {
    const attrs = { strides: [2, 2], pad: 1, dataFormat: 'NHWC', dimRoundingMode: 'ceil' } as const;
    const xShape: Shape4 = [2, 8, 8, 3];
    const filterShape: Shape4 = [3, 3, 3, 4];
    const dyShape: Shape4 = [2, 5, 5, 4]; // ceil((8 + 2 − 3) / 2) + 1; floor would give 4
    const { wasm, cpu } = await onBothBackends(() => tf.tidy(() => {
      const dy = tensor4(dyShape, 'dy');
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: tensor4(filterShape, 'f') }, { ...attrs, inputShape: xShape });
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: tensor4(xShape, 'x'), dy }, { ...attrs, filterShape });
      return [(dx as tf.Tensor).dataSync() as Float32Array, (dw as tf.Tensor).dataSync() as Float32Array];
    }));
    expect(relativeError(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expect(relativeError(wasm[1], cpu[1])).toBeLessThan(1e-4);
  });

  it('serves conv2dTranspose, which runs on Conv2DBackpropInput', async () => {
    const { wasm, cpu } = await onBothBackends(() => tf.tidy(() =>
      tf.conv2dTranspose(tensor4([2, 4, 5, 6], 'y'), tensor4([3, 3, 3, 6], 'f'), [2, 8, 9, 3], 2, 'same').dataSync() as Float32Array));
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-4);
  });
});

describe('wasm conv gradient kernels reject what they cannot do', () => {
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>) => () =>
    tf.tidy(() => tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap));
  const base = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };

  it('names the unsupported attr', () => {
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    const filter = tf.zeros([3, 3, 2, 3]);
    expect(run('Conv2DBackpropFilter', { x, dy }, { ...base, dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] }))
      .toThrow(/Conv2DBackpropFilter \(wasm\): dataFormat NCHW is not supported/);
    expect(run('Conv2DBackpropInput', { dy, filter }, { ...base, dilations: [2, 2], inputShape: [1, 4, 4, 2] }))
      .toThrow(/Conv2DBackpropInput \(wasm\): dilations \[2,2\] are not supported/);
    expect(run('Conv2DBackpropFilter', { x, dy }, base)).toThrow(/attr filterShape is required/);
    expect(run('Conv2DBackpropInput', { dy, filter }, { ...base, strides: [2, 2], inputShape: [1, 4, 4, 2] }))
      .toThrow(/dy has shape \[1, 4, 4, 3\] but the convolution produces \[1, 2, 2, 3\]/);
    expect(run('Conv2DBackpropInput', { dy, filter }, { ...base, inputShape: [1, 4, 4, 5] }))
      .toThrow(/depth of input \(5\) must match input depth for filter 2/);
    tf.dispose([x, dy, filter]);
  });
});

describe('registration', () => {
  it('is idempotent and keeps the built-in Conv2DBackpropInput for comparison', () => {
    const before = wasmTrainingKernelNames.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    const after = wasmTrainingKernelNames.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    expect(after).toEqual(before);
    expect(after.every((f) => typeof f === 'function')).toBe(true);
    const builtin = builtinWasmKernel('Conv2DBackpropInput');
    expect(builtin).toBeDefined();
    expect(builtin!.kernelFunc).not.toBe(tf.getKernel('Conv2DBackpropInput', 'wasm').kernelFunc);
    expect(builtinWasmKernel('Conv2DBackpropFilter')).toBeUndefined(); // wasm never had one
  });
});

describe('UnsortedSegmentSum on wasm (tf.gather gradient)', () => {
  it('sums rows by segment and drops out-of-range ids, like cpu', async () => {
    const { wasm, cpu } = await onBothBackends(() => tf.tidy(() => {
      const x = tf.tensor3d(values(6 * 2 * 3, 'seg'), [6, 2, 3]);
      const ids = tf.tensor1d([2, 0, 2, 5, -1, 1], 'int32');
      return tf.unsortedSegmentSum(x, ids, 4).dataSync() as Float32Array;
    }));
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
    expect(wasm.slice(18, 24)).toEqual(new Float32Array(6)); // segment 3 receives no row
  });

  it('gives tf.gather a gradient with repeated indices', async () => {
    const { wasm, cpu } = await onBothBackends(() => tf.tidy(() => {
      const table = tf.tensor2d(values(5 * 4, 'tab'), [5, 4]);
      const idx = tf.tensor1d([3, 0, 3, 3, 1], 'int32');
      const weights = tf.tensor2d(values(5 * 4, 'wts'), [5, 4]);
      return tf.grad((t: tf.Tensor) => tf.gather(t, idx).mul(weights).sum())(table).dataSync() as Float32Array;
    }));
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
  });
});

describe('MaxPoolGrad on wasm', () => {
  const pools: [string, (x: tf.Tensor4D) => tf.Tensor4D][] = [
    ['2x2 stride 2', (x) => tf.maxPool(x, 2, 2, 'valid')],
    ['3x3 stride 2 pad 1', (x) => tf.maxPool(x, 3, 2, 1)],
    ['3x3 stride 2 same', (x) => tf.maxPool(x, 3, 2, 'same')],
  ];
  const poolGrad = (pool: (x: tf.Tensor4D) => tf.Tensor4D, x: () => tf.Tensor4D) => tf.tidy(() => {
    const input = x();
    const r = tensor4(pool(input).shape, 'pool-dy');
    return tf.grad((a: tf.Tensor) => pool(a as tf.Tensor4D).mul(r).sum())(input).dataSync() as Float32Array;
  });

  it.each(pools)('%s routes the gradient of all-negative windows, like cpu', async (_name, pool) => {
    // The built-in wasm kernel returned zeros for windows with no positive value.
    const negative = () => tensor4([2, 7, 8, 5], 'pool-x').sub<tf.Tensor4D>(1.5);
    const { wasm, cpu } = await onBothBackends(() => poolGrad(pool, negative));
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
    expect(wasm.some((v) => v !== 0)).toBe(true);
  });

  it.each(pools)('%s breaks ties like cpu (first maximum)', async (_name, pool) => {
    const constant = () => tf.fill<tf.Rank.R4>([1, 6, 6, 3], -0.25);
    const { wasm, cpu } = await onBothBackends(() => poolGrad(pool, constant));
    expect(wasm).toEqual(cpu);
  });
});

/** A small network touching every op the trainers' forward passes use; returns each gradient. */
function networkGradients(): Float32Array[] {
  return tf.tidy(() => {
    const p = {
      x: tensor4([2, 15, 15, 3], 'net-x'),
      stem: tensor4([7, 7, 3, 6], 'net-stem').mul(0.2),
      conv3: tensor4([3, 3, 6, 8], 'net-c3').mul(0.3),
      conv2: tensor4([2, 2, 8, 8], 'net-c2').mul(0.4),
      conv1: tensor4([1, 1, 24, 10], 'net-c1').mul(0.3),
      convS2: tensor4([3, 3, 10, 10], 'net-s2').mul(0.3),
      fc: tf.tensor2d(values(36 * 5, 'net-fc'), [36, 5]).mul(0.3),
      bias: tf.tensor1d(values(5, 'net-b')),
    };
    const labels = tf.tensor1d([3, 1], 'int32');
    const names = Object.keys(p) as (keyof typeof p)[];
    const loss = (...args: tf.Tensor[]): tf.Scalar => {
      const v = Object.fromEntries(names.map((n, i) => [n, args[i]])) as Record<keyof typeof p, tf.Tensor>;
      const stem = tf.relu(tf.conv2d(v.x as tf.Tensor4D, v.stem as tf.Tensor4D, 2, explicit(3, 3, 3, 3))); // [2,8,8,6]
      const b = tf.conv2d(stem, v.conv3 as tf.Tensor4D, 1, 'same');
      const mish = b.mul(tf.tanh(tf.softplus(b)));
      // KernelNorm-style standardisation: moments over channels, sqrt and rsqrt
      const mean = tf.mean(mish, 3, true);
      const centred = tf.sub(mish, mean);
      const variance = tf.mean(tf.square(centred), 3, true);
      const normed = tf.div(centred, tf.sqrt(tf.add(variance, 1e-5)));
      const padded = tf.pad(normed, [[0, 0], [1, 0], [1, 0], [0, 0]]); // [2,9,9,8]
      const c = tf.conv2d(padded as tf.Tensor4D, v.conv2 as tf.Tensor4D, 1, explicit(1, 0, 1, 0)); // [2,9,9,8]
      const inner = tf.slice(c, [0, 1, 1, 0], [2, 8, 8, 8]);
      const poolMax2 = tf.maxPool(inner, 2, 2, 'valid'); // [2,4,4,8]
      const poolMax3 = tf.maxPool(inner, 3, 2, 1); // [2,4,4,8]
      const poolAvg = tf.avgPool(tf.slice(c, [0, 0, 1, 0], [2, 8, 8, 8]), 2, 2, 'valid'); // [2,4,4,8]
      const scaled = poolMax3.mul(tf.rsqrt(tf.sum(tf.square(poolMax3), [1, 2], true).add(1)));
      const joined = tf.concat([poolMax2, scaled, poolAvg], 3); // [2,4,4,24]
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(joined.shape, 0, 1, 'float32', 11), 0.2), 'float32');
      const dropped = joined.mul(keep).div(0.8);
      const h = tf.clipByValue(tf.conv2d(dropped as tf.Tensor4D, v.conv1 as tf.Tensor4D, 1, 'valid'), -1.5, 1.5); // [2,4,4,10]
      const down = tf.conv2d(h, v.convS2 as tf.Tensor4D, 2, 'same'); // [2,2,2,10]
      const globalAvg = tf.reshape(tf.avgPool(down, 2, 1, 'valid'), [2, 10]);
      const globalMean = tf.mean(h, [1, 2]);
      const globalMax = tf.max(tf.transpose(h, [0, 3, 1, 2]), [2, 3]);
      const picked = tf.gather(globalMax, tf.tensor1d([0, 4, 4, 9, 2, 7], 'int32'), 1);
      const features = tf.concat([globalAvg, globalMean, globalMax, picked], 1); // [2,36]
      const logits = tf.add(tf.matMul(features, v.fc as tf.Tensor2D), v.bias);
      const nll = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, 5), tf.logSoftmax(logits)), 1)));
      return nll.add<tf.Scalar>(tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 5), logits));
    };
    const grads = tf.grads(loss)(names.map((n) => p[n]));
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

describe('training-path ops on wasm', () => {
  it('give the same gradients as cpu for a network using all of them', async () => {
    const { wasm, cpu } = await onBothBackends(networkGradients);
    expect(wasm).toHaveLength(8);
    wasm.forEach((g, i) => {
      expect(g.some((value) => value !== 0)).toBe(true);
      expect(relativeError(g, cpu[i])).toBeLessThan(1e-4);
    });
  });
});

describe('memory', () => {
  it('leaks neither tensors nor wasm memory across repeated gradient calls', () => {
    const backend = tf.backend() as BackendWasm;
    const heap = () => (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length;
    const x = tensor4([2, 9, 9, 8], 'leak-x');
    const w = tensor4([3, 3, 8, 8], 'leak-w');
    const table = tf.tensor2d(values(12, 'leak-t'), [4, 3]);
    const idx = tf.tensor1d([1, 1, 3], 'int32');
    const step = (): void => {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, t: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').sum()
        .add(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, explicit(2, 1, 2, 1)), 3, 2, 1).sum())
        .add(tf.gather(t, idx).sum()))([x, w, table]);
      tf.dispose(grads);
    };
    for (let i = 0; i < 3; i++) step(); // let the heap reach its working size
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    const heapBytes = heap();
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(dataIds);
    expect(heap()).toBe(heapBytes);
    tf.dispose([x, w, table, idx]);
  });
});
