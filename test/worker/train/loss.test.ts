import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { countTopK, crossEntropyFromLogits } from '../../../src-worker/train/loss';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('crossEntropyFromLogits', () => {
  it('matches the hand value log(1 + e^-1 + e^-2) and averages over the batch', () => {
    const logits = tf.tensor2d([[1, 2, 3], [3, 2, 1]]);
    const one = crossEntropyFromLogits(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([2], 'int32'));
    expect(one.dataSync()[0]).toBeCloseTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)), 5);
    // second row, label 2: -log softmax = 2 + log(1 + e^-1 + e^-2)
    const both = crossEntropyFromLogits(logits, tf.tensor1d([2, 2], 'int32'));
    expect(both.dataSync()[0]).toBeCloseTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)) + 1, 5);
  });

  it('stays finite for huge logits', () => {
    const l = crossEntropyFromLogits(tf.tensor2d([[1000, 0, -1000]]), tf.tensor1d([1], 'int32')).dataSync()[0];
    expect(l).toBeCloseTo(1000, 3);
    expect(crossEntropyFromLogits(tf.tensor2d([[1000, 0, -1000]]), tf.tensor1d([0], 'int32')).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('names the op and shapes on bad input', () => {
    expect(() => crossEntropyFromLogits(tf.tensor2d([[1, 2]]), tf.tensor1d([0, 1], 'int32'))).toThrow(/crossEntropyFromLogits: labels must be \[1\]/);
  });
});

describe('countTopK', () => {
  const logits = () => tf.tensor2d([
    [0.9, 0.1, 0.0, 0.0, 0.0, 0.0],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
  ]);
  it('counts top-1 and top-5 hits', () => {
    const labels = tf.tensor1d([0, 0, 5], 'int32');
    expect(countTopK(logits(), labels, 1).dataSync()[0]).toBe(1);
    // row 1: label 0 is the smallest logit (rank 6); row 2: label 5 is rank 6 too
    expect(countTopK(logits(), labels, 5).dataSync()[0]).toBe(1);
    expect(countTopK(logits(), tf.tensor1d([1, 1, 4], 'int32'), 5).dataSync()[0]).toBe(3);
  });
  it('caps k at the number of classes', () => {
    expect(countTopK(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([0, 0], 'int32'), 5).dataSync()[0]).toBe(2);
  });
});
