import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  assertDpCompatible, crossEntropySum, perSampleGradients, tappedBackward, type DpModel,
} from '../../../src-worker/train/dp/per-sample-grads';
import { layerSampleGrads } from '../../../src-worker/train/dp/layer-grads';
import { bnModel, gnModel, knDropoutModel, knModel, linearModel } from './tiny-models';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The definition: one example at a time through ordinary autodiff. */
function loopGradients(model: DpModel, x: tf.Tensor4D, y: tf.Tensor1D, step?: number): Map<string, Float32Array[]> {
  const out = new Map<string, Float32Array[]>();
  const vars = model.trainableVariables();
  for (let i = 0; i < x.shape[0]; i++) {
    const { grads, value } = tf.variableGrads(
      () => crossEntropySum(model.forwardWith(tf.slice(x, i, 1), { training: true, step }), tf.slice(y, i, 1)),
      vars,
    );
    for (const v of vars) {
      if (!out.has(v.name)) out.set(v.name, []);
      out.get(v.name)!.push(grads[v.name].dataSync() as Float32Array);
    }
    tf.dispose([value, ...Object.values(grads)]);
  }
  return out;
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.length; k++) {
    num = Math.max(num, Math.abs(a[k] - b[k]));
    den = Math.max(den, Math.abs(b[k]));
  }
  return num / Math.max(den, 1e-12);
}

function batch(n: number, h: number, w: number, classes: number, seed: number) {
  const x = tf.randomNormal<tf.Rank.R4>([n, h, w, 3], 0.5, 1, 'float32', seed);
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes), 'int32');
  return { x, y };
}

describe.each([
  ['linear', () => linearModel(3, 5), 1, 1],
  ['GroupNorm/LayerNorm conv', () => gnModel(3), 7, 6],
  ['KNConv', () => knModel(4), 8, 7],
])('per-sample gradients of a %s model', (_name, make, h, w) => {
  it('equal the gradients of one example at a time (rel. 1e-4)', () => {
    const model = make();
    const { x, y } = batch(5, h, w, 3, 3);
    const before = tf.memory().numTensors;
    const perSample = perSampleGradients(model, x, y);
    const loop = loopGradients(model, x, y);
    expect(perSample.size).toBe(model.trainableVariables().length);
    for (const v of model.trainableVariables()) {
      const stacked = perSample.get(v.name)!;
      expect(stacked.shape).toEqual([5, ...v.shape]);
      const rows = tf.unstack(stacked);
      rows.forEach((row, i) => {
        const expected = loop.get(v.name)![i];
        expect(maxRelativeError(row.dataSync() as Float32Array, expected)).toBeLessThan(1e-4);
      });
      tf.dispose(rows);
    }
    tf.dispose([...perSample.values()]);
    expect(tf.memory().numTensors).toBe(before); // no leaks
    tf.dispose([x, y]);
    model.dispose();
  });

  it('norms (ghost or materialised) and clipped sums agree with the materialised gradients', () => {
    const model = make();
    const { x, y } = batch(4, h, w, 3, 9);
    const tapped = tappedBackward(model, x, y);
    const c = tf.tensor1d([0.5, 1, 0.25, 2]);
    const methods = new Set<string>();
    for (const layer of tapped.layers) {
      const g = layerSampleGrads(layer.info, layer.input, layer.outputGrad);
      methods.add(`${layer.info.kind}:${g.normMethod}`);
      const mats = g.materialize();
      const expectedSq = tf.addN(mats.map((m) => tf.sum(tf.square(m.grad), m.grad.shape.slice(1).map((_, k) => k + 1))));
      expect(maxRelativeError(g.squaredNorms().dataSync() as Float32Array, expectedSq.dataSync() as Float32Array)).toBeLessThan(1e-4);
      const sums = g.weightedSum(c);
      sums.forEach((s, k) => {
        const mat = mats[k].grad;
        const expected = tf.sum(tf.mul(mat, tf.reshape(c, [4, ...mat.shape.slice(1).map(() => 1)])), 0);
        expect(s.variable).toBe(mats[k].variable);
        expect(maxRelativeError(s.grad.dataSync() as Float32Array, expected.dataSync() as Float32Array)).toBeLessThan(1e-4);
      });
      g.dispose();
    }
    // both norm paths of convolutions must have been exercised by the KN model
    if (model.info.norm === 'kn') expect([...methods].sort()).toEqual(['knconv:direct', 'knconv:ghost', 'linear:ghost']);
    tapped.dispose();
    tf.dispose([x, y, c]);
    model.dispose();
  });
});

describe('KN dropout', () => {
  it('per-sample gradients replay the forward\'s dropout masks when the tap reports their seed', () => {
    // Each example alone draws a different mask than inside the batch (the mask covers the whole input), so
    // the reference is the batch's own forward: gradients of Σ_i ℓ_i w.r.t. the weights summed over the batch
    // must equal the sum of the per-sample gradients, and a wrong mask would break that equality.
    const model = knDropoutModel(3, 0.3);
    const { x, y } = batch(4, 6, 6, 3, 5);
    const per = perSampleGradients(model, x, y, { step: 7 });
    const { grads, value } = tf.variableGrads(
      () => crossEntropySum(model.forwardWith(x, { training: true, step: 7 }), y), model.trainableVariables());
    for (const v of model.trainableVariables()) {
      const summed = tf.sum(per.get(v.name)!, 0);
      expect(maxRelativeError(summed.dataSync() as Float32Array, grads[v.name].dataSync() as Float32Array)).toBeLessThan(1e-4);
      summed.dispose();
    }
    // and with another step's mask the sums differ: the check above can fail
    const other = perSampleGradients(model, x, y, { step: 8 });
    const w = model.trainableVariables()[0];
    const s8 = tf.sum(other.get(w.name)!, 0);
    expect(maxRelativeError(s8.dataSync() as Float32Array, grads[w.name].dataSync() as Float32Array)).toBeGreaterThan(1e-3);
    tf.dispose([s8, value, x, y, ...Object.values(grads), ...per.values(), ...other.values()]);
    model.dispose();
  });
});

describe('DP compatibility', () => {
  it('refuses a BatchNorm model with the documented message', () => {
    const model = bnModel();
    expect(() => assertDpCompatible(model)).toThrow(
      'DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model',
    );
    model.dispose();
  });

  it('refuses a trainable variable no layer reports (it would escape clipping)', () => {
    const model = linearModel(3, 2);
    const stray = tf.variable(tf.zeros([2]), true, 'dptest_stray');
    const withStray: DpModel = { ...model, trainableVariables: () => [...model.trainableVariables(), stray] };
    expect(() => assertDpCompatible(withStray)).toThrow(/outside every tapped layer: dptest_stray/);
    stray.dispose();
    model.dispose();
  });

  it('refuses a layer whose reported geometry does not match its output', () => {
    const model = gnModel(2);
    const { x, y } = batch(2, 7, 6, 2, 1);
    const tapped = tappedBackward(model, x, y);
    const conv = tapped.layers[0];
    const wrong = { ...conv.info, stride: [2, 2] as [number, number] };
    expect(() => layerSampleGrads(wrong, conv.input, conv.outputGrad)).toThrow(/conv1 reports a geometry giving 4x3 outputs/);
    tapped.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  it('refuses KN dropout when the model does not report the mask seed', () => {
    const model = knModel(2);
    const { x, y } = batch(2, 5, 5, 2, 1);
    const withDropout: DpModel = {
      ...model,
      layers: () => model.layers().map((l) => ({ ...l, dropout: 0.05 })),
    };
    const tapped = tappedBackward(model, x, y);
    const layer = { ...tapped.layers[0], info: withDropout.layers()[0] };
    expect(() => layerSampleGrads(layer.info, layer.input, layer.outputGrad)).toThrow(/KernelNorm dropout 0.05.*does not report their seed/);
    tapped.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
