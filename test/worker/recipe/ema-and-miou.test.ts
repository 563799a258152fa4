import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { adjustedEmaDecay, WeightEma } from '../../../src-worker/train/recipe/ema';
import { ConfusionMatrix } from '../../../src-worker/train/segmentation/confusion';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('WeightEma (AveragedModel with an exponential average)', () => {
  it('copies first, then averages; copying (warm-up) resets the average', async () => {
    const w = tf.variable(tf.tensor1d([2]));
    const ema = new WeightEma([{ path: 'w', variable: w }], 0.5);
    ema.update();
    w.assign(tf.tensor1d([4]));
    ema.update(); // 0.5·2 + 0.5·4
    const read = async () => (await ema.getState()).values[0]?.values[0];
    expect(await read()).toBe(3);
    w.assign(tf.tensor1d([10]));
    ema.update(true);
    expect(await read()).toBe(10);
    w.assign(tf.tensor1d([20]));
    ema.update(); // the reset average copies again
    expect(await read()).toBe(20);
    ema.dispose();
    w.dispose();
  });
  it('evaluates with the averaged weights and restores the trained ones', async () => {
    const w = tf.variable(tf.tensor1d([1]));
    const ema = new WeightEma([{ path: 'w', variable: w }], 0.9);
    ema.update();
    w.assign(tf.tensor1d([11]));
    ema.update(); // 0.9 + 1.1 = 2
    const seen = await ema.withAveragedWeights(async () => w.dataSync()[0]);
    expect(seen).toBeCloseTo(2, 6);
    expect(w.dataSync()[0]).toBe(11);
    ema.dispose();
    w.dispose();
  });
  it("the recipe's decay adjustment: 8 GPUs × batch 128, every 32 steps, 600 epochs", () => {
    expect(adjustedEmaDecay({ batchSize: 128, worldSize: 8, epochs: 600 })).toBeCloseTo(1 - (2e-5 * 8 * 128 * 32) / 600, 12);
    expect(adjustedEmaDecay({ batchSize: 4096, epochs: 1, everySteps: 32 })).toBe(0);
  });
});

describe('ConfusionMatrix (mIoU over a whole evaluation set, ignore label excluded)', () => {
  it('hand-computed IoUs, mIoU and pixel accuracy accumulated over two batches', async () => {
    const cm = new ConfusionMatrix(3);
    const batches = [
      [[0, 1, 1], [0, 1, 0]],
      [[255, 2], [1, 2]],
    ] as const;
    for (const [labels, preds] of batches) {
      const counts = ConfusionMatrix.batchCounts(tf.tensor1d([...labels], 'int32'), tf.tensor1d([...preds], 'int32'), 3);
      await cm.add(counts);
      counts.dispose();
    }
    const m = cm.metrics();
    // (gt, pred): (0,0) (1,1) (1,0) (2,2); class 0: 1/(1+2−1), class 1: 1/(2+1−1), class 2: 1/1
    expect(m.iou).toEqual([0.5, 0.5, 1]);
    expect(m.miou).toBeCloseTo(2 / 3, 12);
    expect(m.pixelAccuracy).toBe(0.75);
  });
  it('a class absent from labels and predictions is left out of the mean', async () => {
    const cm = new ConfusionMatrix(4);
    const counts = ConfusionMatrix.batchCounts(tf.tensor2d([[0, 1]], undefined, 'int32'), tf.tensor2d([[0, 1]], undefined, 'int32'), 4);
    await cm.add(counts);
    const m = cm.metrics();
    expect(m.iou.slice(0, 2)).toEqual([1, 1]);
    expect(Number.isNaN(m.iou[2])).toBe(true);
    expect(m.miou).toBe(1);
  });
});

describe('ConfusionMatrix on wasm (the backend runs train on CPUs)', () => {
  it('gives the same counts as on cpu', async () => {
    const labels = [0, 1, 1, 255, 2, 2, 0];
    const preds = [0, 1, 0, 1, 2, 1, 2];
    const countsOn = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const t = ConfusionMatrix.batchCounts(tf.tensor1d(labels, 'int32'), tf.tensor1d(preds, 'int32'), 3);
      const values = Array.from(await t.data());
      t.dispose();
      return values;
    };
    const wasm = await countsOn('wasm');
    const cpu = await countsOn('cpu');
    expect(wasm).toEqual(cpu);
    expect(cpu).toEqual([1, 0, 1, 1, 1, 0, 0, 1, 1]);
  });
});
