import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel } from '../../../src-worker/models';
import { pixelCrossEntropy } from '../../../src-worker/train/segmentation/pixel-loss';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('pixelCrossEntropy (CrossEntropyLoss with ignore_index 255)', () => {
  it('averages −log p[label] over the pixels that are not ignored', () => {
    // two pixels of three classes; the third pixel is ignored
    const logits = tf.tensor4d([0, 0, 0, Math.log(3), 0, 0, 9, 9, 9], [1, 1, 3, 3]);
    const labels = tf.tensor3d([2, 0, 255], [1, 1, 3], 'int32');
    const expected = (-Math.log(1 / 3) - Math.log(3 / 5)) / 2;
    expect(pixelCrossEntropy(logits, labels).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(Math.abs(pixelCrossEntropy(logits, tf.fill<tf.Rank.R3>([1, 1, 3], 255, 'int32')).dataSync()[0] ?? 1)).toBe(0);
  });
  it('names mismatched shapes', () => {
    expect(() => pixelCrossEntropy(tf.zeros<tf.Rank.R4>([1, 2, 2, 3]), tf.zeros<tf.Rank.R3>([1, 2, 3], 'int32'))).toThrow(
      /labels must be \[1, 2, 2\] to match logits \[1,2,2,3\], got \[1,2,3\]/,
    );
  });
});

describe('a few SGD steps reduce the per-pixel loss on a fixed batch (wasm)', () => {
  for (const [name, lr] of [['fc_resnet18_bn', 0.05], ['fc_resnet18_gn', 0.05], ['fc_knresnet18', 0.05]] as const) {
    it(name, () => {
      const model = createModel(name, { numClasses: 3, lowResolution: false, widthMultiplier: 0.125, seed: 4 });
      const x = tf.randomUniform<tf.Rank.R4>([2, 32, 64, 3], -1, 1, 'float32', 7);
      // left half class 0, right half class 1, a band of class 2 and an ignored corner
      const labels = tf.tidy(() => {
        const cols = tf.range(0, 64).reshape([1, 1, 64]).tile([2, 32, 1]);
        const rows = tf.range(0, 32).reshape([1, 32, 1]).tile([2, 1, 64]);
        const halves = tf.cast(tf.greaterEqual(cols, 32), 'int32') as tf.Tensor3D;
        const band = tf.where(tf.logicalAnd(tf.greaterEqual(rows, 12), tf.less(rows, 20)), tf.fill(halves.shape, 2, 'int32'), halves);
        return tf.where(tf.logicalAnd(tf.less(rows, 4), tf.less(cols, 4)), tf.fill(halves.shape, 255, 'int32'), band) as tf.Tensor3D;
      });
      const optimizer = tf.train.sgd(lr);
      const losses: number[] = [];
      let afterFirst = 0;
      for (let step = 0; step < 6; step++) {
        const { value, grads } = tf.variableGrads(() => pixelCrossEntropy(model.segment(x, true), labels), model.trainableVariables());
        expect(Object.keys(grads).length).toBe(model.trainableVariables().length);
        optimizer.applyGradients(grads);
        losses.push(value.dataSync()[0] ?? Number.NaN);
        tf.dispose([value, ...Object.values(grads)]);
        if (step === 0) afterFirst = tf.memory().numTensors;
        else expect(tf.memory().numTensors).toBe(afterFirst);
      }
      if (process.env.SHOW_LOSSES) console.log(name, losses.map((l) => l.toFixed(3)).join(' '));
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1] ?? Infinity).toBeLessThan((losses[0] ?? 0) * 0.95);
      optimizer.dispose();
      tf.dispose([x, labels]);
      model.dispose();
    });
  }
});
