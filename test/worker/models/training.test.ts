import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel, type NormLabModel } from '../../../src-worker/models';

// Training needs Conv2DBackpropFilter, which the wasm backend only has once src-worker/wasm-kernels.ts
// registers it; TRAINING_BACKEND=cpu runs these tests on the cpu backend instead.
const BACKEND = (process.env.TRAINING_BACKEND ?? 'wasm') as 'wasm' | 'cpu';

beforeAll(async () => {
  await initBackend(BACKEND);
});

function fixedBatch(n: number, size: number, classes: number) {
  const x = tf.randomUniform<tf.Rank.R4>([n, size, size, 3], -1, 1, 'float32', 5);
  const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => i % classes), 'int32');
  const y = tf.oneHot(labels, classes) as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

function lossOf(model: NormLabModel, x: tf.Tensor4D, y: tf.Tensor2D, training: boolean): tf.Scalar {
  return tf.losses.softmaxCrossEntropy<tf.Tensor2D, tf.Scalar>(y, model.forward(x, training));
}

describe(`a few SGD steps reduce the loss on a fixed batch (${BACKEND})`, () => {
  const cases: [string, number][] = [
    ['knresnet18', 0.1], ['resnet18_bn', 0.05], ['resnet18_gn', 0.05], ['preact_resnet18_bn', 0.05],
    ['cnn', 0.2], ['kn_cnn', 0.2], ['convnext_tiny', 0.05], ['knconvnext_tiny', 0.05],
  ];
  for (const [name, lr] of cases) {
    it(name, () => {
      const model = createModel(name, { numClasses: 4, lowResolution: true, widthMultiplier: name.endsWith('cnn') ? 0.5 : 0.125, seed: 9 });
      // ConvNeXt downsamples 32×, so it needs at least 32×32 inputs
      const { x, y } = fixedBatch(8, name.includes('convnext') ? 32 : 16, 4);
      const optimizer = tf.train.sgd(lr);
      const losses: number[] = [];
      let afterFirstStep = 0;
      for (let step = 0; step < 6; step++) {
        const { value, grads } = tf.variableGrads(() => lossOf(model, x, y, true), model.trainableVariables());
        // every trainable parameter is connected to the loss
        expect(Object.keys(grads).length).toBe(model.trainableVariables().length);
        optimizer.applyGradients(grads);
        losses.push(value.dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
        // nothing accumulates from one step to the next
        if (step === 0) afterFirstStep = tf.memory().numTensors;
        else expect(tf.memory().numTensors).toBe(afterFirstStep);
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      if (process.env.SHOW_LOSSES) console.log(name, losses.map((l) => l.toFixed(3)).join(' '));
      expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.95);
      optimizer.dispose();
      tf.dispose([x, y]);
      model.dispose();
    });
  }
});

describe('BatchNorm running statistics', () => {
  it('move in training and stay put in eval', () => {
    const model = createModel('resnet18_bn', { numClasses: 4, lowResolution: true, widthMultiplier: 0.125, seed: 1 });
    const running = model.namedVariables().filter((v) => v.path.endsWith('running_mean') || v.path.endsWith('running_var'));
    const snapshot = () => running.map((v) => Array.from(v.variable.dataSync()));
    const initial = snapshot();
    const x = tf.randomUniform<tf.Rank.R4>([4, 16, 16, 3], 0, 2, 'float32', 1);
    tf.dispose(model.forward(x, false));
    expect(snapshot()).toEqual(initial);
    tf.dispose(model.forward(x, true));
    const afterTraining = snapshot();
    running.forEach((v, i) => expect(afterTraining[i], v.path).not.toEqual(initial[i]));
    tf.dispose(model.forward(x, false));
    expect(snapshot()).toEqual(afterTraining);
    x.dispose();
    model.dispose();
  });
});

describe('memory', () => {
  it('no tensor leaks over repeated forward/backward, and dispose frees every variable', async () => {
    const start = tf.memory().numTensors;
    const model = createModel('knresnet50', { numClasses: 3, lowResolution: true, widthMultiplier: 0.0625, seed: 1 });
    const allocated = tf.memory().numTensors;
    expect(allocated - start).toBe(model.namedVariables().length);
    const { x, y } = fixedBatch(2, 16, 3);
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => lossOf(model, x, y, true), model.trainableVariables());
      expect(Object.keys(grads).length).toBe(model.trainableVariables().length);
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(model.forwardWith(x, { training: false, collectStats: true }));
      // the sampled statistics wait on the device until read; reading hands them over and frees them
      expect((await model.takeNormStats()).length).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(allocated + 2);
    }
    // statistics sampled but never read are freed with the model
    tf.dispose(model.forwardWith(x, { training: false, collectStats: true }));
    tf.dispose([x, y]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
