import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { mulberry32 } from '../../../src-worker/data/random';
import { cutmix, cutmixBox, mixBatch, mixup, sampleBeta } from '../../../src-worker/train/recipe/mixing';

beforeAll(async () => {
  await initBackend('cpu');
});

const round = (xs: ArrayLike<number>) => Array.from(xs, (x) => Math.round(x * 1e6) / 1e6);

describe('mixup', () => {
  it('blends each row with the previous one (torch roll(1, 0)), images and targets alike', () => {
    const images = tf.tensor4d([1, 3], [2, 1, 1, 1]);
    const targets = tf.tensor2d([[1, 0], [0, 1]]);
    const mixed = mixup(images, targets, 0.7);
    expect(round(mixed.images.dataSync())).toEqual([1.6, 2.4]); // 0.7·1 + 0.3·3, 0.7·3 + 0.3·1
    expect(round(mixed.targets.dataSync())).toEqual([0.7, 0.3, 0.3, 0.7]);
  });
});

describe('cutmix', () => {
  it('box: half-sides ⌊√(1−λ)/2 · side⌋, clipped at the border, λ re-weighted by the pasted area', () => {
    expect(cutmixBox(4, 4, 0.75, 1, 2)).toEqual({ x1: 0, y1: 1, x2: 2, y2: 3, lambda: 0.75 });
    expect(cutmixBox(4, 4, 0.75, 0, 0)).toEqual({ x1: 0, y1: 0, x2: 1, y2: 1, lambda: 15 / 16 });
  });
  it('pastes the partner image inside the box and mixes targets by the area', () => {
    const images = tf.concat<tf.Tensor4D>([tf.zeros([1, 4, 4, 1]), tf.ones([1, 4, 4, 1])]);
    const targets = tf.tensor2d([[1, 0], [0, 1]]);
    const mixed = cutmix(images, targets, 0.75, 1, 2);
    const first = Array.from(mixed.images.slice([0], [1]).dataSync());
    // rows 1–2, columns 0–1 of image 0 come from image 1 (ones)
    expect(first).toEqual([0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(round(mixed.targets.dataSync())).toEqual([0.75, 0.25, 0.25, 0.75]);
  });
});

describe('mixBatch', () => {
  it('is deterministic for a seed and picks both transforms over many batches', () => {
    const images = tf.randomUniform<tf.Rank.R4>([4, 8, 8, 3], 0, 1, 'float32', 1);
    const targets = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4).toFloat() as tf.Tensor2D;
    const a = mixBatch(images, targets, { mixupAlpha: 0.2, cutmixAlpha: 1 }, mulberry32(7));
    const b = mixBatch(images, targets, { mixupAlpha: 0.2, cutmixAlpha: 1 }, mulberry32(7));
    expect(a.kind).toBe(b.kind);
    expect(Array.from(a.images.dataSync())).toEqual(Array.from(b.images.dataSync()));
    const kinds = new Set<string>();
    for (let s = 0; s < 20; s++) kinds.add(tf.tidy(() => mixBatch(images, targets, { mixupAlpha: 0.2, cutmixAlpha: 1 }, mulberry32(s)).kind));
    expect([...kinds].sort()).toEqual(['cutmix', 'mixup']);
    // each mixed target row is still a distribution
    expect(round(a.targets.sum(1).dataSync())).toEqual([1, 1, 1, 1]);
  });
  it('only mixup when cutmix is off', () => {
    const images = tf.zeros<tf.Rank.R4>([2, 2, 2, 1]);
    const targets = tf.tensor2d([[1, 0], [0, 1]]);
    for (let s = 0; s < 5; s++) expect(mixBatch(images, targets, { mixupAlpha: 0.2, cutmixAlpha: 0 }, mulberry32(s)).kind).toBe('mixup');
    expect(() => mixBatch(images, targets, { mixupAlpha: 0, cutmixAlpha: 0 }, mulberry32(1))).toThrow(/neither mixup nor cutmix/);
  });
});

describe('sampleBeta', () => {
  it('Beta(0.2, 0.2) has mean 1/2 and variance αβ/((α+β)²(α+β+1)) = 0.17857', () => {
    const rng = mulberry32(123);
    const draws = Array.from({ length: 20000 }, () => sampleBeta(0.2, 0.2, rng));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.015);
    expect(Math.abs(variance - 0.178571)).toBeLessThan(0.01);
    expect(draws.every((d) => d >= 0 && d <= 1)).toBe(true);
  });
});
