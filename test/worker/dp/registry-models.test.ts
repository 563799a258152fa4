import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../../../src-worker/models/index';
import { createDpSgdStep } from '../../../src-worker/train/dp/dp-sgd';
import { crossEntropySum, perSampleGradients } from '../../../src-worker/train/dp/per-sample-grads';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The registry's own models through their tap hook: KNConv, KNConv1x1 and the parameterless KernelNorm before
// the classifier (knresnet18), GroupNorm (resnet18_gn), LayerNorm with pre-activation blocks, the toy kn_cnn.
describe.each([
  ['kn_cnn', 1],
  ['knresnet18', 0.0625],
  ['resnet18_gn', 0.0625],
  ['preact_resnet18_ln', 0.0625],
])('%s (width %d, Mish, KN dropout 0)', (name, width) => {
  it('per-sample gradients equal one-example-at-a-time gradients (rel. 1e-4)', () => {
    const model = createModel(name, { numClasses: 4, lowResolution: true, widthMultiplier: width, activation: 'mish', knDropout: 0, groups: 2, seed: 3 });
    const x = tf.randomNormal<tf.Rank.R4>([2, 8, 8, 3], 0, 1, 'float32', 4);
    const y = tf.tensor1d([1, 3], 'int32');
    const per = perSampleGradients(model, x, y, { step: 0 });
    let worst = 0;
    for (let i = 0; i < 2; i++) {
      const { grads, value } = tf.variableGrads(
        () => crossEntropySum(model.forwardWith(tf.slice(x, i, 1), { training: true, step: 0 }), tf.slice(y, i, 1)),
        model.trainableVariables(),
      );
      for (const v of model.trainableVariables()) {
        worst = Math.max(worst, tf.tidy(() => {
          const diff = tf.max(tf.abs(tf.sub(tf.gather(per.get(v.name)!, i), grads[v.name]))).dataSync()[0];
          return diff / Math.max(tf.max(tf.abs(grads[v.name])).dataSync()[0], 1e-12);
        }));
      }
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(per.size).toBe(model.trainableVariables().length);
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([x, y, ...per.values()]);
    model.dispose();
  });
});

describe('registry models DP-SGD refuses', () => {
  it('resnet18_bn', () => {
    const model = createModel('resnet18_bn', { numClasses: 4, lowResolution: true, widthMultiplier: 0.0625, seed: 1 });
    expect(() =>
      createDpSgdStep(model, { noiseMultiplier: 1, maxGradNorm: 1, sampleRate: 0.1, trainSize: 100, microBatchSize: 8, delta: 1e-5, seed: 0 }),
    ).toThrow('DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model');
    model.dispose();
  });
});
