import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { AdamW, decayGroups } from '../../../src-worker/train/recipe/adamw';

beforeAll(async () => {
  await initBackend('cpu');
});

function stepWith(opt: AdamW, p: tf.Variable, g: number[], lr: number): void {
  const grad = tf.tensor1d(g);
  opt.step({ [p.name]: grad }, lr);
  grad.dispose();
}

// torch.optim.AdamW by hand (lr 0.1, wd 0.1, betas 0.9/0.999, eps 1e-8), p0 = 1, gradients 0.5 then −1:
//   step 1: p = 0.99;   m = 0.05;   v = 2.5e-4;   m̂ = 0.5, √v̂ = 0.5 → p = 0.99 − 0.1 = 0.89
//   step 2: p = 0.8811; m = −0.055; v = 1.24975e-3; m̂ = −0.289474, √v̂ = 0.790688 → p = 0.8811 + 0.036610 = 0.917710
describe('AdamW (torch.optim.AdamW semantics)', () => {
  it('two steps match the hand-computed update, decay decoupled from the gradient', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const opt = new AdamW([{ path: 'w', variable: p, weightDecay: 0.1 }]);
    stepWith(opt, p, [0.5], 0.1);
    expect(p.dataSync()[0]).toBeCloseTo(0.89, 6);
    stepWith(opt, p, [-1], 0.1);
    expect(p.dataSync()[0]).toBeCloseTo(0.917710, 5);
    expect(opt.steps).toBe(2);
    opt.dispose();
    p.dispose();
  });

  it('a norm parameter (weight decay 0) takes the bare Adam step', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const opt = new AdamW([{ path: 'bn.gamma', variable: p, weightDecay: 0 }]);
    stepWith(opt, p, [0.5], 0.1);
    expect(p.dataSync()[0]).toBeCloseTo(0.9, 6);
    opt.dispose();
    p.dispose();
  });

  it('decayGroups gives norm parameters the norm weight decay and the rest the weight decay', () => {
    const a = tf.variable(tf.zeros([1]));
    const b = tf.variable(tf.zeros([1]));
    const groups = decayGroups([{ path: 'conv.w', variable: a, isNorm: false }, { path: 'ln.gamma', variable: b, isNorm: true }], 0.05);
    expect(groups.map((g) => [g.path, g.weightDecay])).toEqual([['conv.w', 0.05], ['ln.gamma', 0]]);
    tf.dispose([a, b]);
  });

  it('state round-trips: a restored optimizer continues exactly', async () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const opt = new AdamW([{ path: 'w', variable: p, weightDecay: 0.05 }]);
    stepWith(opt, p, [0.3, -0.2], 0.01);
    const state = await opt.getState();
    const q = tf.variable(p.clone());
    const restored = new AdamW([{ path: 'w', variable: q, weightDecay: 0.05 }]);
    restored.setState(state);
    stepWith(opt, p, [0.1, 0.4], 0.01);
    stepWith(restored, q, [0.1, 0.4], 0.01);
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
    tf.dispose([p, q]);
    opt.dispose();
    restored.dispose();
  });

  it('keeps the tensor count flat over many steps', () => {
    const p = tf.variable(tf.randomNormal([16]));
    const opt = new AdamW([{ path: 'w', variable: p, weightDecay: 0.05 }]);
    stepWith(opt, p, Array(16).fill(0.1), 0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) stepWith(opt, p, Array(16).fill(0.1), 0.01);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    p.dispose();
  });

  it('refuses bad hyperparameters with the op name and the value', () => {
    const p = tf.variable(tf.zeros([1]));
    expect(() => new AdamW([{ path: 'w', variable: p, weightDecay: 0 }], { beta1: 1 })).toThrow(/AdamW: beta1 must be in \[0, 1\), got 1/);
    expect(() => new AdamW([{ path: 'w', variable: p, weightDecay: -1 }])).toThrow(/weight decay of "w" must be >= 0/);
    p.dispose();
  });
});
