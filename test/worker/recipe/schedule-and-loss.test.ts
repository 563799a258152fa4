import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { softCrossEntropy } from '../../../src-worker/train/recipe/soft-targets';
import { warmupCosine } from '../../../src-worker/train/recipe/warmup-cosine';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('warmupCosine (torchvision: LinearLR from 0.01 for 5 epochs, then CosineAnnealingLR)', () => {
  const at = (epoch: number, totalEpochs = 10) => warmupCosine(1e-3, epoch, { totalEpochs, warmupEpochs: 5 });
  it('warm-up rises linearly from 1 % of lr', () => {
    expect(at(0)).toBeCloseTo(1e-5, 12);
    expect(at(1)).toBeCloseTo(2.08e-4, 12); // 1e-3 · (0.01 + 0.99/5)
    expect(at(4)).toBeCloseTo(8.02e-4, 12);
  });
  it('cosine from lr at the end of warm-up down to 0 at the last epoch', () => {
    expect(at(5)).toBeCloseTo(1e-3, 12);
    expect(at(6)).toBeCloseTo(9.045085e-4, 10); // (1 + cos(π/5)) / 2
    expect(at(10)).toBeCloseTo(0, 12);
    expect(warmupCosine(1e-3, 302, { totalEpochs: 600, warmupEpochs: 5 })).toBeCloseTo(5e-4 * (1 + Math.cos(Math.PI * 297 / 595)), 12);
  });
  it('refuses a warm-up as long as the run', () => {
    expect(() => warmupCosine(1, 0, { totalEpochs: 5, warmupEpochs: 5 })).toThrow(/epochs \(5\) must exceed the warm-up epochs \(5\)/);
  });
});

describe('softCrossEntropy (CrossEntropyLoss with probability targets and label smoothing)', () => {
  it('matches the hand-computed value with smoothing 0.1', () => {
    // softmax([0, ln 3]) = [0.25, 0.75]; targets [1, 0] → [0.95, 0.05]; −(0.95 ln 0.25 + 0.05 ln 0.75)
    const loss = softCrossEntropy(tf.tensor2d([[0, Math.log(3)]]), tf.tensor2d([[1, 0]]), 0.1);
    expect(loss.dataSync()[0]).toBeCloseTo(1.331363, 5);
  });
  it('without smoothing equals the integer-label cross-entropy', () => {
    const loss = softCrossEntropy(tf.tensor2d([[0, Math.log(3)], [2, 0]]), tf.tensor2d([[0, 1], [1, 0]]));
    const expected = (-Math.log(0.75) - Math.log(Math.exp(2) / (Math.exp(2) + 1))) / 2;
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
  });
  it('names mismatched shapes', () => {
    expect(() => softCrossEntropy(tf.tensor2d([[0, 1]]), tf.tensor2d([[1, 0, 0]]))).toThrow(/logits \[1,2\] and targets \[1,3\]/);
  });
});
