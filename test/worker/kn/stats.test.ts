import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { knConv2d } from '../../../src-worker/kn/ops';
import { summarizeDistribution, summarizeNormStats } from '../../../src-worker/kn/stats';

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
