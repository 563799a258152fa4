import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClippedGradientSum, createDpSgdStep, privatize, type DpBatchSource } from '../../../src-worker/train/dp/dp-sgd';
import { perSampleGradients } from '../../../src-worker/train/dp/per-sample-grads';
import { poissonSample } from '../../../src-worker/train/dp/poisson';
import { dpPlan, epsilonAfter } from '../../../src-worker/train/dp/plan';
import { dpPaperRecipe } from '../../../src-worker/train/presets';
import { epsilonFor } from '../../../src-worker/train/dp/rdp-accountant';
import { bnModel, gnModel, knModel } from './tiny-models';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function globalNorm(tensors: tf.Tensor[]): number {
  return Math.sqrt(tensors.reduce((s, t) => s + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0));
}

/** A synthetic training set served by index, as Dataset.getBatch does. */
function syntheticSource(size: number, h: number, w: number, classes: number): { source: DpBatchSource; requested: number[] } {
  const requested: number[] = [];
  const pixels = h * w * 3;
  const source: DpBatchSource = async (indices) => {
    requested.push(indices.length);
    const x = new Float32Array(indices.length * pixels);
    const y = new Int32Array(indices.length);
    indices.forEach((idx, r) => {
      for (let k = 0; k < pixels; k++) x[r * pixels + k] = Math.sin(idx * 12.9898 + k * 78.233) * 1.5;
      y[r] = idx % classes;
    });
    return { x, y, size: indices.length, shape: [h, w, 3] };
  };
  return { source, requested };
}

describe('clipping', () => {
  it('the clipped sum is Σ_i min(1, C/‖g_i‖)·g_i and every clipped example has norm ≤ C', async () => {
    const model = gnModel(3);
    const x = tf.randomNormal<tf.Rank.R4>([6, 7, 6, 3], 0, 2, 'float32', 5);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    const C = 0.5;
    const vars = model.trainableVariables();
    const per = perSampleGradients(model, x, y);
    const norms = tf.tidy(() => tf.sqrt(tf.addN(vars.map((v) => tf.sum(tf.square(per.get(v.name)!), v.shape.map((_, k) => k + 1))))));
    const normValues = Array.from(norms.dataSync());
    expect(normValues.some((n) => n > C)).toBe(true); // the bound is actually exercised

    const acc = new ClippedGradientSum(model, C);
    acc.add(x, y);
    expect((await acc.readTotals()).clipped).toBe(normValues.filter((n) => n > C).length);
    const sums = acc.take(vars);
    const factors = tf.tensor1d(normValues.map((n) => Math.min(1, C / (n + 1e-6))));
    for (const v of vars) {
      const stacked = per.get(v.name)!;
      const expected = tf.tidy(() => tf.sum(tf.mul(stacked, tf.reshape(factors, [6, ...v.shape.map(() => 1)])), 0));
      const got = sums.get(v.name)!;
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0])).toBeLessThan(1e-5 * Math.max(1, globalNorm([expected])));
      expected.dispose();
    }
    // one example at a time: the clipped gradient's norm over all parameters never exceeds C
    for (let i = 0; i < 6; i++) {
      const one = new ClippedGradientSum(model, C);
      const xi = tf.slice(x, i, 1);
      const yi = tf.slice(y, i, 1);
      one.add(xi, yi);
      const clipped = one.take(vars);
      const norm = globalNorm([...clipped.values()]);
      expect(norm).toBeLessThanOrEqual(C * (1 + 1e-5));
      expect(norm).toBeCloseTo(Math.min(normValues[i], C), 4);
      tf.dispose([xi, yi, ...clipped.values()]);
    }
    tf.dispose([x, y, norms, factors, ...per.values(), ...sums.values()]);
    model.dispose();
  });
});

describe('noise', () => {
  it('with zero gradients the private gradient has mean 0 and std σC / (q·N)', () => {
    const sigma = 1.3;
    const C = 2;
    const expectedBatchSize = 64;
    const sums = new Map([['a', tf.zeros([300, 400])], ['b', tf.zeros([50])]]);
    const out = privatize(sums, { noiseMultiplier: sigma, maxGradNorm: C, expectedBatchSize, seed: 1, step: 0 });
    const values = Array.from(out['a'].dataSync());
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    const target = (sigma * C) / expectedBatchSize;
    // 120000 draws: the sample std is within 1% of the true one with overwhelming probability
    expect(Math.abs(std / target - 1)).toBeLessThan(0.01);
    expect(Math.abs(mean)).toBeLessThan((5 * target) / Math.sqrt(values.length));
    expect(out['b'].shape).toEqual([50]);
    // independent streams per variable and per step
    const again = privatize(new Map([['a', tf.zeros([300, 400])]]), { noiseMultiplier: sigma, maxGradNorm: C, expectedBatchSize, seed: 1, step: 1 });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(again['a'], out['a']))).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([...Object.values(out), ...Object.values(again)]);
  });
});

describe('Poisson sampling', () => {
  it('includes each example independently with rate q', () => {
    const n = 100_000;
    const q = 0.1;
    const counts = [0, 1, 2].map((step) => poissonSample(n, q, 7, step).length);
    // binomial(n, q): std ≈ 95; 5 std is a safe bound
    for (const c of counts) expect(Math.abs(c - n * q)).toBeLessThan(5 * Math.sqrt(n * q * (1 - q)));
    const first = poissonSample(n, q, 7, 0);
    expect(Array.from(poissonSample(n, q, 7, 0))).toEqual(Array.from(first)); // reproducible
    expect(counts[1]).not.toBe(counts[0]);
    // every index equally likely: the first and second halves get about the same share
    const firstHalf = first.filter((i) => i < n / 2).length;
    expect(Math.abs(firstHalf - first.length / 2)).toBeLessThan(5 * Math.sqrt(first.length / 4));
    expect(() => poissonSample(10, 0, 1, 0)).toThrow(/sampleRate must be in \(0, 1\]/);
  });
});

describe('createDpSgdStep', () => {
  const base = { noiseMultiplier: 1.1, maxGradNorm: 1, sampleRate: 0.25, trainSize: 40, delta: 1e-5, seed: 3 };

  it('micro-batching does not change the private gradient, and ε grows step by step', async () => {
    const model = knModel(3);
    const small = createDpSgdStep(model, { ...base, microBatchSize: 3 });
    const large = createDpSgdStep(model, { ...base, microBatchSize: 1000 });
    const src = syntheticSource(40, 6, 6, 3);
    const a = await small.step(src.source);
    const b = await large.step(syntheticSource(40, 6, 6, 3).source);
    expect(a.sampled).toBe(b.sampled);
    expect(src.requested.every((k) => k <= 3)).toBe(true);
    expect(src.requested.reduce((s, k) => s + k, 0)).toBe(a.sampled);
    expect(Object.keys(a.grads).sort()).toEqual(model.trainableVariables().map((v) => v.name).sort());
    for (const name of Object.keys(a.grads)) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.grads[name], b.grads[name]))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
    }
    expect(a.loss).toBeCloseTo(b.loss, 4);
    expect(a.epsilon).toBeCloseTo(epsilonFor({ noiseMultiplier: 1.1, sampleRate: 0.25, steps: 1, delta: 1e-5 }).epsilon, 10);
    const before = tf.memory().numTensors;
    const c = await small.step(src.source);
    expect(c.step).toBe(1);
    expect(c.epsilon).toBeGreaterThan(a.epsilon);
    expect(small.stepsTaken).toBe(2);
    tf.dispose(Object.values(c.grads));
    expect(tf.memory().numTensors).toBe(before); // a step leaves nothing behind but its gradients
    tf.dispose([...Object.values(a.grads), ...Object.values(b.grads)]);
    model.dispose();
  });

  it('charges a resumed run for the steps already taken', () => {
    const model = gnModel(2);
    const resumed = createDpSgdStep(model, { ...base, microBatchSize: 8, startStep: 100 });
    expect(resumed.epsilon()).toBeCloseTo(epsilonFor({ noiseMultiplier: 1.1, sampleRate: 0.25, steps: 100, delta: 1e-5 }).epsilon, 10);
    model.dispose();
  });

  it('refuses BatchNorm models and bad options', () => {
    const bn = bnModel();
    expect(() => createDpSgdStep(bn, { ...base, microBatchSize: 8 })).toThrow(
      'DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model',
    );
    bn.dispose();
    const model = gnModel(2);
    expect(() => createDpSgdStep(model, { ...base, microBatchSize: 0 })).toThrow(/microBatchSize must be a positive integer, got 0/);
    expect(() => createDpSgdStep(model, { ...base, microBatchSize: 4, maxGradNorm: -1 })).toThrow(/maxGradNorm/);
    expect(() => createDpSgdStep(model, { ...base, microBatchSize: 4, sampleRate: 2 })).toThrow(/sampleRate/);
    model.dispose();
  });
});

describe('dpPlan and the paper recipe', () => {
  it('plans CIFAR-10 with the paper recipe: q = 8192/50000, σ calibrated to ε ≤ 8 over all steps', () => {
    const plan = dpPlan(50000, dpPaperRecipe.fields.dp as never, 100);
    expect(plan.sampleRate).toBeCloseTo(0.16384, 12);
    expect(plan.stepsPerEpoch).toBe(6);
    expect(plan.totalSteps).toBe(600);
    expect(plan.expectedBatchSize).toBeCloseTo(8192, 9);
    expect(plan.epsilon).toBeLessThanOrEqual(8);
    expect(plan.epsilon).toBeGreaterThan(7.99);
    expect(epsilonAfter(plan, plan.totalSteps)).toBeCloseTo(plan.epsilon, 12);
    expect(epsilonAfter(plan, 300)).toBeLessThan(plan.epsilon);
  });

  it('uses an explicit σ when no target is given, and says what is missing', () => {
    const plan = dpPlan(1000, { noiseMultiplier: 2, delta: 1e-5, maxGradNorm: 1, logicalBatch: 100 }, 3);
    expect(plan.noiseMultiplier).toBe(2);
    expect(plan.totalSteps).toBe(30);
    expect(() => dpPlan(1000, { delta: 1e-5, maxGradNorm: 1, logicalBatch: 100 }, 3)).toThrow(/targetEpsilon or noiseMultiplier/);
    expect(() => dpPlan(50, { noiseMultiplier: 1, delta: 1e-5, maxGradNorm: 1, logicalBatch: 100 }, 3)).toThrow(/exceeds the training set/);
  });

  it('the recipe is the paper’s: plain SGD, lr halved at 70 and 90, Mish, δ = 8e-7, ε = 8', () => {
    const f = dpPaperRecipe.fields;
    expect([f.momentum, f.weightDecay, f.epochs, f.activation]).toEqual([0, 0, 100, 'mish']);
    expect(f.schedule).toEqual({ kind: 'multistep', milestones: [70, 90], gamma: 0.5 });
    expect(f.dp).toEqual({ targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 8192 });
    expect(dpPaperRecipe.grid).toEqual({ lr: [2, 3, 4], maxGradNorm: [1, 2] });
  });
});
