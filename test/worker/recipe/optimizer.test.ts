import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel } from '../../../src-worker/models';
import { parseRunSpec } from '../../../src-worker/run-spec';
import { createOptimizer, normParameters } from '../../../src-worker/train/recipe/optimizer';

beforeAll(async () => {
  await initBackend('cpu');
});

const spec = (fields: Record<string, unknown>) => parseRunSpec({ model: 'convnext_tiny', dataset: 'synthetic', epochs: 1, batchSize: 2, lr: 1, ...fields });

describe('createOptimizer', () => {
  it('AdamW decays every parameter by lr·wd except the norm layers\' under normWeightDecay 0 (torchvision\'s groups)', () => {
    const model = createModel('convnext_tiny', { numClasses: 10, lowResolution: false, widthMultiplier: 0.0625, seed: 0 });
    const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
    const norms = normParameters(model);
    // LayerNorm gain and bias of the stem, the 3+3+9+3 blocks, the 3 downsampling sections and the head
    expect(norms.size).toBe(2 * (1 + 18 + 3 + 1));
    const before = new Map(params.map((p) => [p.path, p.variable.dataSync().slice()]));
    const optimizer = createOptimizer(spec({ optimizer: 'adamw', weightDecay: 0.1, normWeightDecay: 0 }), model, params);
    // zero gradients: Adam's step is 0, so only the decoupled decay moves the weights
    const grads = Object.fromEntries(params.map((p) => [p.variable.name, tf.zerosLike(p.variable)]));
    optimizer.step(grads, 0.5);
    for (const p of params) {
      const factor = norms.has(p.variable) ? 1 : 1 - 0.5 * 0.1;
      const expected = Float32Array.from(before.get(p.path) ?? [], (v) => v * factor);
      const got = p.variable.dataSync();
      for (let i = 0; i < got.length; i += Math.max(1, Math.floor(got.length / 7))) expect(got[i], p.path).toBeCloseTo(expected[i] ?? NaN, 6);
    }
    tf.dispose(Object.values(grads));
    optimizer.dispose();
    model.dispose();
  });

  it('SGD by default, refusing a norm weight decay it cannot apply', () => {
    const model = createModel('cnn', { numClasses: 10, lowResolution: true, seed: 0 });
    const params = model.namedVariables().filter((v) => v.trainable).map(({ path, variable }) => ({ path, variable }));
    const optimizer = createOptimizer(spec({ model: 'cnn' }), model, params);
    expect(optimizer.kind).toBe('sgd');
    optimizer.dispose();
    expect(() => createOptimizer(spec({ model: 'cnn', normWeightDecay: 0 }), model, params)).toThrow(/only --optimizer adamw has per-group weight decay/);
    model.dispose();
  });
});
