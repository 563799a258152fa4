import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { Sgd } from '../../../src-worker/train/sgd';

beforeAll(async () => {
  await initBackend('cpu');
});

function setup(opts: { momentum: number; weightDecay: number; nesterov?: boolean }) {
  const p = tf.variable(tf.tensor1d([1, -2]));
  const sgd = new Sgd([{ path: 'w', variable: p }], opts);
  const grads = () => ({ [p.name]: tf.tensor1d([0.5, 0.5]) });
  const step = (lr: number) => {
    const g = grads();
    sgd.step(g, lr);
    tf.dispose(Object.values(g));
  };
  const values = () => Array.from(p.dataSync());
  const dispose = () => {
    sgd.dispose();
    p.dispose();
  };
  return { p, sgd, step, values, dispose };
}

// Hand-computed with PyTorch's rules: d = g + wd p; buf = d (first step) else 0.9 buf + d; p -= lr buf.
describe('Sgd (torch.optim.SGD semantics)', () => {
  it('momentum 0.9, weight decay 0.1: two steps by hand', () => {
    const s = setup({ momentum: 0.9, weightDecay: 0.1 });
    s.step(0.1); // d = [0.6, 0.3] = buf
    expect(s.values()[0]).toBeCloseTo(0.94, 6);
    expect(s.values()[1]).toBeCloseTo(-2.03, 6);
    s.step(0.1); // d = [0.594, 0.297]; buf = [1.134, 0.567]
    expect(s.values()[0]).toBeCloseTo(0.8266, 6);
    expect(s.values()[1]).toBeCloseTo(-2.0867, 6);
    s.dispose();
  });

  it('nesterov: p -= lr (d + 0.9 buf)', () => {
    const s = setup({ momentum: 0.9, weightDecay: 0.1, nesterov: true });
    s.step(0.1);
    expect(s.values()[0]).toBeCloseTo(0.886, 6);
    expect(s.values()[1]).toBeCloseTo(-2.057, 6);
    s.step(0.1);
    expect(s.values()[0]).toBeCloseTo(0.725566, 6);
    expect(s.values()[1]).toBeCloseTo(-2.137217, 6);
    s.dispose();
  });

  it('without momentum it is plain gradient descent on g + wd p', () => {
    const s = setup({ momentum: 0, weightDecay: 0.1 });
    s.step(0.1);
    s.step(0.1); // second: d = [0.5 + 0.094, 0.5 - 0.203]
    expect(s.values()[0]).toBeCloseTo(0.94 - 0.0594, 6);
    expect(s.values()[1]).toBeCloseTo(-2.03 - 0.0297, 6);
    s.dispose();
  });

  it('skips parameters without a gradient, as PyTorch skips grad None', () => {
    const a = tf.variable(tf.tensor1d([1]));
    const b = tf.variable(tf.tensor1d([1]));
    const sgd = new Sgd([{ path: 'a', variable: a }, { path: 'b', variable: b }], { momentum: 0.9, weightDecay: 0.5 });
    const g = { [a.name]: tf.tensor1d([1]) };
    sgd.step(g, 0.1);
    expect(a.dataSync()[0]).toBeCloseTo(1 - 0.1 * 1.5, 6);
    expect(b.dataSync()[0]).toBe(1);
    tf.dispose([a, b, g[a.name]]);
    sgd.dispose();
  });

  it('its state round-trips: a restored optimizer takes the same next step bitwise', async () => {
    const s1 = setup({ momentum: 0.9, weightDecay: 5e-4 });
    s1.step(0.05);
    s1.step(0.05);
    const state = await s1.sgd.getState();
    const s2 = setup({ momentum: 0.9, weightDecay: 5e-4 });
    s2.p.assign(tf.tensor1d(s1.values()));
    s2.sgd.setState(state);
    s1.step(0.05);
    s2.step(0.05);
    expect(new Float32Array(s2.values())).toEqual(new Float32Array(s1.values()));
    expect(state.initialized).toBe(true);
    s1.dispose();
    s2.dispose();
  });

  it('rejects bad settings and mismatched state with named errors', () => {
    const p = tf.variable(tf.tensor1d([1]));
    expect(() => new Sgd([{ path: 'w', variable: p }], { momentum: 0, weightDecay: 0, nesterov: true })).toThrow(/nesterov requires momentum/);
    expect(() => new Sgd([{ path: 'w', variable: p }], { momentum: -1, weightDecay: 0 })).toThrow(/momentum must be >= 0/);
    const sgd = new Sgd([{ path: 'w', variable: p }], { momentum: 0.9, weightDecay: 0 });
    expect(() => sgd.setState({ initialized: true, buffers: [] })).toThrow(/no momentum buffer for "w"/);
    sgd.dispose();
    p.dispose();
  });

  it('allocates no tensors per step', () => {
    const s = setup({ momentum: 0.9, weightDecay: 5e-4, nesterov: true });
    s.step(0.1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) s.step(0.1);
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
  });
});
