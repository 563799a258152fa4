import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { batchNorm2d, groupNorm2d, layerNorm2d } from '../../../src-worker/kn/norms';
import { knConv2d } from '../../../src-worker/kn/ops';
import {
  NEAR_CONSTANT_FACTOR, readNormStats, sampleNormStats, summarizeDistribution, summarizeNormStats, type NormLayerStats, type PendingNormStats,
} from '../../../src-worker/kn/stats';

describe('summarizeDistribution', () => {
  it('gives mean, population std, extremes, interpolated percentiles and a fixed-bin histogram', () => {
    const values = Float32Array.from({ length: 101 }, (_, i) => i); // 0..100
    const s = summarizeDistribution(values, 4);
    expect(s.mean).toBe(50);
    expect(s.std).toBeCloseTo(Math.sqrt(850), 10);
    expect([s.min, s.max]).toEqual([0, 100]);
    expect(s.percentiles).toEqual([5, 25, 50, 75, 95]);
    expect(s.histogram).toEqual({ lo: 0, hi: 100, counts: [25, 25, 25, 26] });
  });

  it('interpolates between ranks and uses 32 bins by default', () => {
    const s = summarizeDistribution(Float32Array.from([4, 1, 3, 2]));
    expect(s.percentiles[2]).toBe(2.5);
    expect(s.percentiles[0]).toBeCloseTo(1.15, 6);
    expect(s.histogram.counts).toHaveLength(32);
    expect(s.histogram.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(s.histogram.counts[0]).toBe(1);
    expect(s.histogram.counts[31]).toBe(1);
  });

  it('handles a constant input and leaves out non-finite values', () => {
    const s = summarizeDistribution(Float32Array.from([2, 2, NaN, Infinity, 2]), 8);
    expect([s.mean, s.std, s.min, s.max]).toEqual([2, 0, 2, 2]);
    expect(s.histogram.counts[0]).toBe(3);
    const none = summarizeDistribution(Float32Array.from([NaN]), 2);
    expect(none.mean).toBeNaN();
    expect(none.histogram.counts).toEqual([0, 0]);
  });

  it('rejects empty input and bad bin counts', () => {
    expect(() => summarizeDistribution(new Float32Array(0))).toThrow('summarizeDistribution: values is empty.');
    expect(() => summarizeDistribution(Float32Array.from([1]), 0)).toThrow('summarizeDistribution: bins must be a positive integer, but got 0.');
  });
});

describe('summarizeNormStats', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('summarizes the statistics a knConv2d sink receives', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 6, 6, 3], 2, 3, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 4], 0, 1, 'float32', 2);
    let stats: ReturnType<typeof summarizeNormStats> | null = null;
    tf.tidy(() => knConv2d(x, w, null, { padding: 1, statsSink: (kind, mean, std) => { stats = summarizeNormStats('block0.conv', kind, mean, std); } }));
    const s = stats as unknown as ReturnType<typeof summarizeNormStats>;
    expect(s.layer).toBe('block0.conv');
    expect(s.kind).toBe('kn');
    expect(s.mean.histogram.counts.reduce((a, b) => a + b, 0)).toBe(2 * 6 * 6);
    expect(s.std.min).toBeGreaterThan(0);
    expect(s.mean.mean).toBeGreaterThan(0.5); // the input's mean is 2, diluted by zero padding at the border
    tf.dispose([x, w]);
  });

  it('reads a deterministic strided subsample when there are more than maxSamples values', () => {
    const mean = tf.range(0, 10000, 1, 'float32');
    const std = tf.fill([10000], 3);
    const s = summarizeNormStats('l', 'bn', mean, std, 1000);
    expect(s.mean.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(s.mean.min).toBe(0);
    expect(s.mean.max).toBe(9990);
    expect(summarizeNormStats('l', 'bn', mean, std, 1000)).toEqual(s);
    expect(() => summarizeNormStats('l', 'bn', mean, tf.tidy(() => tf.ones([3])), 10)).toThrow('summarizeNormStats: mean and std of layer l must have the same size');
    tf.dispose([mean, std]);
  });
});

describe('near-constant share', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const eps = 1e-4;
  /**
   * A 4×4 single-channel image whose four 2×2 quadrants (the windows of a 2×2, stride-2 KernelNorm) have
   * variance 0, 5ε, 20ε and 1: two of the four are below 10ε. A quadrant of ±a has variance a².
   */
  function quadrants(): tf.Tensor4D {
    const a = [0, Math.sqrt(5 * eps), Math.sqrt(20 * eps), 1];
    const offsets = [3, -2, 0.5, 7];
    const img = Array.from({ length: 16 }, (_, i) => {
      const [r, c] = [Math.floor(i / 4), i % 4];
      const q = 2 * Math.floor(r / 2) + Math.floor(c / 2);
      return offsets[q] + ((r + c) % 2 === 0 ? a[q] : -a[q]);
    });
    return tf.tensor4d(img, [1, 4, 4, 1]);
  }

  function sinkOf(push: (mean: tf.Tensor, std: tf.Tensor) => void) {
    return (_kind: string, mean: tf.Tensor, std: tf.Tensor) => push(mean, std);
  }

  it('counts the KN windows with σ² < 10ε, over every window even when the histogram subsamples', async () => {
    const x = quadrants();
    const w = tf.ones<tf.Rank.R4>([2, 2, 1, 1]);
    const sync: NormLayerStats[] = [];
    const pending: PendingNormStats[] = [];
    tf.tidy(() => knConv2d(x, w, null, {
      stride: 2, eps,
      statsSink: sinkOf((mean, std) => {
        sync.push(summarizeNormStats('stem', 'kn', mean, std, 4096, eps));
        pending.push(sampleNormStats('stem', 'kn', mean, std, 1, eps)); // histograms of 1 of the 4 windows
      }),
    }));
    const [read] = await readNormStats(pending);
    expect(sync).toHaveLength(1);
    for (const s of [...sync, read]) {
      expect(s.std.nearConstant).toEqual({ share: 0.5, count: 2, total: 4, unit: 'windows', eps, factor: NEAR_CONSTANT_FACTOR });
    }
    expect(read.std.histogram.counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(NEAR_CONSTANT_FACTOR).toBe(10);
    tf.dispose([x, w]);
  });

  it('measures against the layer’s own ε: the same windows are not near-constant at a 100× smaller ε', () => {
    const x = quadrants();
    const w = tf.ones<tf.Rank.R4>([2, 2, 1, 1]);
    const got: NormLayerStats[] = [];
    tf.tidy(() => knConv2d(x, w, null, { stride: 2, eps: eps / 100, statsSink: sinkOf((mean, std) => got.push(summarizeNormStats('stem', 'kn', mean, std, 4096, eps / 100))) }));
    // only the constant window is below 10 · 1e-6
    expect(got[0].std.nearConstant).toMatchObject({ count: 1, total: 4, share: 0.25 });
    tf.dispose([x, w]);
  });

  it('names the unit: BN channels, GN groups per sample, LN samples', () => {
    // 2 samples, 2×2 pixels, 4 channels: channel 0 constant over the batch, the others spread
    const x = tf.tidy(() => tf.concat<tf.Tensor4D>([tf.fill([2, 2, 2, 1], 0.3), tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 4)], 3));
    const gamma = tf.ones<tf.Rank.R1>([4]);
    const beta = tf.zeros<tf.Rank.R1>([4]);
    const running = { mean: tf.variable(tf.zeros([4])), variance: tf.variable(tf.ones([4])) };
    const got: Record<string, NormLayerStats> = {};
    const sink = (name: string) => (kind: 'kn' | 'bn' | 'gn' | 'ln', mean: tf.Tensor, std: tf.Tensor) => { got[name] = summarizeNormStats(name, kind, mean, std); };
    tf.tidy(() => {
      batchNorm2d(x, gamma, beta, running, { training: true, statsSink: sink('bn') });
      groupNorm2d(x, gamma, beta, 2, { statsSink: sink('gn') });
      layerNorm2d(x, gamma, beta, { statsSink: sink('ln') });
    });
    expect(got.bn.std.nearConstant).toMatchObject({ unit: 'channels', count: 1, total: 4, eps: 1e-5 });
    // group 0 of each sample holds the constant channel and a random one: not near-constant
    expect(got.gn.std.nearConstant).toMatchObject({ unit: 'groups', count: 0, total: 4 });
    expect(got.ln.std.nearConstant).toMatchObject({ unit: 'samples', count: 0, total: 2 });
    tf.dispose([x, gamma, beta, running.mean, running.variance]);
  });

  it('rejects a non-positive ε, naming the layer', () => {
    const t = tf.ones([3]);
    expect(() => summarizeNormStats('l', 'bn', t, t, 10, 0)).toThrow('summarizeNormStats: eps of layer l must be a positive number, but got 0.');
    expect(() => sampleNormStats('l', 'bn', t, t, 10, Number.NaN)).toThrow('sampleNormStats: eps of layer l must be a positive number, but got NaN.');
    t.dispose();
  });
});
