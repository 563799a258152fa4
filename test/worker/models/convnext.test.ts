import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { channelLayerNorm } from '../../../src-worker/kn/channel-layer-norm';
import { createModel, describeModel } from '../../../src-worker/models';
import { stochasticDepth } from '../../../src-worker/models/convnext';

beforeAll(async () => {
  await initBackend('cpu');
});

const imagenet = { numClasses: 1000, lowResolution: false };

describe('ConvNeXt-Tiny and KNConvNeXt-Tiny: layout as the torch state_dicts', () => {
  it('torch parameter names and shapes (depthwise [7, 7, C, 1], linear [in, out], layer scale per channel)', () => {
    const shapes = new Map(describeModel('convnext_tiny', imagenet).params.map((p) => [p.path, p.shape]));
    expect(shapes.get('features.0.0.weight')).toEqual([4, 4, 3, 96]);
    expect(shapes.get('features.0.1.weight')).toEqual([96]);
    expect(shapes.get('features.1.0.block.0.weight')).toEqual([7, 7, 96, 1]);
    expect(shapes.get('features.1.0.block.3.weight')).toEqual([96, 384]);
    expect(shapes.get('features.1.0.block.5.weight')).toEqual([384, 96]);
    expect(shapes.get('features.1.0.layer_scale')).toEqual([96]);
    expect(shapes.get('features.2.0.weight')).toEqual([96]); // LayerNorm2d before the downsampling conv
    expect(shapes.get('features.2.1.weight')).toEqual([2, 2, 96, 192]);
    expect(shapes.get('features.5.8.block.0.weight')).toEqual([7, 7, 384, 1]); // the 9-block stage
    expect(shapes.get('classifier.2.weight')).toEqual([768, 1000]);
  });

  it('KNConvNeXt: the downsampling sections are KNConv2d with bias and no LayerNorm; the rest is unchanged', () => {
    const kn = new Map(describeModel('knconvnext_tiny', imagenet).params.map((p) => [p.path, p.shape]));
    const ln = new Map(describeModel('convnext_tiny', imagenet).params.map((p) => [p.path, p.shape]));
    for (const section of [2, 4, 6]) expect(kn.has(`features.${section}.0.weight`)).toBe(false);
    expect(kn.get('features.4.1.weight')).toEqual([2, 2, 192, 384]);
    expect(kn.get('features.4.1.bias')).toEqual([384]);
    const withoutDownsampleNorms = [...ln.keys()].filter((p) => !/^features\.[246]\.0\./.test(p));
    expect([...kn.keys()].sort()).toEqual(withoutDownsampleNorms.sort());
    const model = createModel('knconvnext_tiny', { numClasses: 10, lowResolution: true, widthMultiplier: 0.125, seed: 1 });
    const down = model.layers().find((l) => l.path === 'features.2.1');
    expect(down).toMatchObject({ kind: 'knconv', kernelSize: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0], dropout: 0.1 });
    model.dispose();
  });

  it('initialisation: weights N(0, 0.02²), biases 0, LayerNorm 1/0, layer scale 1e-6', async () => {
    const model = createModel('convnext_tiny', { numClasses: 10, lowResolution: true, widthMultiplier: 0.5, seed: 3 });
    const byPath = new Map(model.namedVariables().map((v) => [v.path, v.variable]));
    const read = async (path: string) => {
      const v = byPath.get(path);
      if (!v) throw new Error(`no variable ${path}`);
      return Array.from(await v.data());
    };
    const w = await read('features.5.0.block.3.weight'); // 192 × 768 values
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
    expect((await read('features.5.0.block.3.bias')).every((b) => b === 0)).toBe(true);
    expect((await read('features.0.0.bias')).every((b) => b === 0)).toBe(true);
    expect((await read('features.1.0.layer_scale')).every((s) => Math.abs(s - 1e-6) < 1e-12)).toBe(true);
    expect((await read('features.1.0.block.2.weight')).every((g) => g === 1)).toBe(true);
    model.dispose();
  });

  it('stochastic depth: evaluation is deterministic, training drops residual branches', () => {
    const model = createModel('convnext_tiny', { numClasses: 5, lowResolution: true, widthMultiplier: 0.125, seed: 2 });
    const x = tf.randomUniform<tf.Rank.R4>([4, 32, 32, 3], -1, 1, 'float32', 4);
    const evalA = model.forward(x, false).dataSync();
    const evalB = model.forward(x, false).dataSync();
    expect(Array.from(evalA)).toEqual(Array.from(evalB));
    model.dispose();
    x.dispose();
    // per sample: dropped (0) or kept and scaled by 1/(1 − p); the identity at evaluation
    const ones = tf.ones<tf.Rank.R4>([64, 2, 2, 1]);
    const trained = Array.from(stochasticDepth(ones, 0.5, true, 11).dataSync());
    expect(new Set(trained)).toEqual(new Set([0, 2]));
    const perSample = Array.from({ length: 64 }, (_, i) => trained.slice(4 * i, 4 * i + 4));
    expect(perSample.every((v) => v.every((e) => e === v[0]))).toBe(true);
    expect(Array.from(stochasticDepth(ones, 0.5, false, 11).dataSync()).every((v) => v === 1)).toBe(true);
  });
});

describe('channelLayerNorm (LayerNorm2d)', () => {
  it("normalises each pixel's channels with the biased variance, then scales and shifts", () => {
    // one pixel [1, 2, 3]: mean 2, variance 2/3
    const y = channelLayerNorm(tf.tensor4d([1, 2, 3], [1, 1, 1, 3]), tf.tensor1d([1, 2, 1]), tf.tensor1d([0, 0, 1]), { eps: 0 });
    const s = Math.sqrt(2 / 3);
    const values = Array.from(y.dataSync());
    [-1 / s, 0, 1 / s + 1].forEach((e, i) => expect(values[i]).toBeCloseTo(e, 5));
  });
  it('names a gamma of the wrong size', () => {
    expect(() => channelLayerNorm(tf.zeros<tf.Rank.R4>([1, 2, 2, 3]), tf.ones<tf.Rank.R1>([4]), tf.zeros<tf.Rank.R1>([3]))).toThrow(
      /gamma \[4\] and beta \[3\] must have 3 values/,
    );
  });
});

describe('DP-SGD and ConvNeXt', () => {
  it('is refused up front with the reason', async () => {
    const { refuseDpModel } = await import('../../../src-worker/train/dp-steps');
    expect(() => refuseDpModel('knconvnext_tiny')).toThrow(/DP-SGD cannot train knconvnext_tiny: per-sample gradients of its depthwise convs/);
  });
});
