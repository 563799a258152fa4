import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel, listModels, type LayerInfo, type ModelOptions } from '../../../src-worker/models';

beforeAll(async () => {
  await initBackend('wasm');
});

function randomImages(n: number, size: number, seed = 1): tf.Tensor4D {
  return tf.randomUniform<tf.Rank.R4>([n, size, size, 3], -1, 1, 'float32', seed);
}

/** Small enough for CI: 50-layer models at 1/16 width, the rest at 1/8. */
function smallWidth(name: string): number {
  return name.includes('50') ? 0.0625 : 0.125;
}

describe('output shapes', () => {
  for (const { name, family } of listModels().filter((m) => m.task !== 'segmentation')) {
    // ConvNeXt downsamples 32×: torchvision gives its minimum input as 32×32
    const size = family.includes('convnext') ? 32 : 16;
    it(`${name}: [N, numClasses] at ${size}×${size}, low resolution, training and eval`, () => {
      const model = createModel(name, { numClasses: 7, lowResolution: true, widthMultiplier: smallWidth(name), seed: 1 });
      const x = randomImages(2, size);
      for (const training of [true, false]) {
        const y = model.forward(x, training);
        expect(y.shape).toEqual([2, 7]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
      x.dispose();
      model.dispose();
    });
  }

  const imagenetStem: [string, number][] = [
    ['resnet18_bn', 32], ['preact_resnet50_gn', 32], ['resnet50_nn', 32], ['knresnet50', 64], ['knresnet18', 128],
  ];
  for (const [name, size] of imagenetStem) {
    it(`${name}: ImageNet stem at ${size}×${size}`, () => {
      const model = createModel(name, { numClasses: 5, lowResolution: false, widthMultiplier: 0.0625, seed: 1 });
      const x = randomImages(1, size);
      const y = model.forward(x, false);
      expect(y.shape).toEqual([1, 5]);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('rejects input that is not NHWC with 3 channels', () => {
    const model = createModel('cnn', { numClasses: 3, lowResolution: true, seed: 1 });
    const gray = tf.zeros<tf.Rank.R4>([1, 16, 16, 1]);
    expect(() => model.forward(gray, false)).toThrow(/cnn.forwardWith: input must be NHWC \[N, H, W, 3\], got \[1,16,16,1\]/);
    const x = tf.zeros<tf.Rank.R4>([1, 16, 16, 3]);
    expect(() => model.forwardWith(x, {} as never)).toThrow(/cnn.forwardWith: ctx.training must be a boolean/);
    expect(() => model.forwardWith(x, { training: true, step: -1 })).toThrow(/ctx.step must be a non-negative integer, got -1/);
    tf.dispose([gray, x]);
    model.dispose();
  });
});

describe('normalisation statistics', () => {
  async function collect(name: string, opts: Partial<ModelOptions> = {}) {
    const model = createModel(name, { numClasses: 4, lowResolution: true, widthMultiplier: smallWidth(name), seed: 2, ...opts });
    const x = randomImages(2, 16);
    const plain = model.forward(x, true);
    expect(await model.takeNormStats()).toEqual([]); // nothing collected unless asked
    const y = model.forwardWith(x, { training: true, collectStats: true });
    const stats = await model.takeNormStats();
    expect(await model.takeNormStats()).toEqual([]); // handed over once
    const layers = model.layers();
    tf.dispose([x, y, plain]);
    model.dispose();
    return { stats, layers };
  }

  function expectSane(stats: Awaited<ReturnType<typeof collect>>['stats']) {
    for (const s of stats) {
      for (const d of [s.mean, s.std]) {
        expect(Number.isFinite(d.mean) && Number.isFinite(d.std)).toBe(true);
        expect(d.min).toBeLessThanOrEqual(d.max);
      }
      expect(s.std.min, s.layer).toBeGreaterThan(0);
    }
  }

  it('one entry per KernelNorm layer in knresnet50, including KNConv1x1 and kn_f', async () => {
    const { stats, layers } = await collect('knresnet50');
    const knLayers = layers.filter((l) => l.kind === 'knconv' || l.kind === 'knconv1x1').map((l) => l.path);
    expect(stats.map((s) => s.layer)).toEqual(expect.arrayContaining(knLayers));
    expect(stats.length).toBe(knLayers.length + 1);
    expect(stats[stats.length - 1].layer).toBe('kn_f');
    expect(new Set(stats.map((s) => s.kind))).toEqual(new Set(['kn']));
    expectSane(stats);
  });

  it('one entry per BatchNorm / GroupNorm / LayerNorm layer', async () => {
    for (const [name, kind] of [['resnet18_bn', 'bn'], ['preact_resnet18_gn', 'gn'], ['resnet34_ln', 'ln']] as const) {
      const { stats, layers } = await collect(name);
      expect(stats.map((s) => s.layer), name).toEqual(layers.filter((l) => l.kind === kind).map((l) => l.path));
      expect(new Set(stats.map((s) => s.kind))).toEqual(new Set([kind]));
      expectSane(stats);
    }
  });

  it('none for the non-normalised variants', async () => {
    expect((await collect('resnet18_nn')).stats).toEqual([]);
    expect((await collect('cnn')).stats).toEqual([]);
  });
});

describe('tap', () => {
  it('sees every parameterised layer once, with its input and output', () => {
    const model = createModel('resnet18_bn', { numClasses: 4, lowResolution: true, widthMultiplier: 0.125, seed: 3 });
    const x = randomImages(2, 16);
    const seen: LayerInfo[] = [];
    const y = model.forwardWith(x, {
      training: false,
      tap: (layer, input, output) => {
        seen.push(layer);
        if (layer.kind === 'conv') expect(input.shape[3]).toBe(layer.weight!.shape[2]);
        if (layer.kind === 'bn') expect(input.shape).toEqual(output.shape);
        return output;
      },
    });
    expect(seen.map((l) => l.path)).toEqual(expect.arrayContaining(model.layers().map((l) => l.path)));
    expect(seen.length).toBe(model.layers().length);
    const untapped = model.forward(x, false);
    expect(Array.from(y.dataSync())).toEqual(Array.from(untapped.dataSync()));
    tf.dispose([x, y, untapped]);
    model.dispose();
  });

  it('continues with what the tap returns', () => {
    const model = createModel('knresnet50', { numClasses: 4, lowResolution: true, widthMultiplier: 0.0625, seed: 3 });
    const x = randomImages(1, 16);
    const kinds = new Set<string>();
    const y = model.forwardWith(x, {
      training: false,
      tap: (layer, _input, output) => {
        kinds.add(layer.kind);
        return layer.kind === 'linear' ? tf.zerosLike(output) : output;
      },
    });
    expect(Array.from(y.dataSync())).toEqual([0, 0, 0, 0]);
    expect(kinds).toEqual(new Set(['knconv', 'knconv1x1', 'linear']));
    expect(() => model.forwardWith(x, { training: false, tap: (l, _i, o) => (l.kind === 'linear' ? tf.zeros([1]) : o) }))
      .toThrow(/tap for layer fc returned shape \[1\], expected \[1,4\]/);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('KernelNorm dropout seeding', () => {
  it('is reproducible from (model seed, step) and varies across steps', () => {
    const opts = { numClasses: 4, lowResolution: true, knDropout: 0.3, seed: 11 };
    const a = createModel('kn_cnn', opts);
    const b = createModel('kn_cnn', opts);
    const x = randomImages(2, 16);
    const values = (t: tf.Tensor) => { const v = Array.from(t.dataSync()); t.dispose(); return v; };
    expect(values(a.forwardWith(x, { training: true, step: 5 }))).toEqual(values(a.forwardWith(x, { training: true, step: 5 })));
    expect(values(a.forwardWith(x, { training: true, step: 5 }))).not.toEqual(values(a.forwardWith(x, { training: true, step: 6 })));
    // the internal step counter: successive training forwards differ, two fresh models agree
    const a1 = values(a.forward(x, true));
    const a2 = values(a.forward(x, true));
    expect(a1).not.toEqual(a2);
    expect([values(b.forward(x, true)), values(b.forward(x, true))]).toEqual([a1, a2]);
    // no dropout in eval
    expect(values(a.forward(x, false))).toEqual(values(b.forward(x, false)));
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it("tells a tap each knconv call's dropout seed in training, none in eval", () => {
    const model = createModel('kn_cnn', { numClasses: 4, lowResolution: true, knDropout: 0.1, seed: 3 });
    const x = randomImages(1, 16);
    const seedsOf = (training: boolean, step?: number) => {
      const seeds: (number | undefined)[] = [];
      tf.dispose(model.forwardWith(x, {
        training, step, tap: (layer, _i, out) => { if (layer.kind === 'knconv') seeds.push(layer.seed); return out; },
      }));
      return seeds;
    };
    const atStep5 = seedsOf(true, 5);
    expect(atStep5).toHaveLength(2);
    expect(atStep5[0]).not.toBe(atStep5[1]);
    expect(seedsOf(true, 5)).toEqual(atStep5);
    expect(seedsOf(true, 6)).not.toEqual(atStep5);
    expect(seedsOf(false)).toEqual([undefined, undefined]);
    x.dispose();
    model.dispose();
  });

  it('activation option swaps ReLU for Mish', () => {
    const base = { numClasses: 4, lowResolution: true, widthMultiplier: 0.125, seed: 4 };
    const relu = createModel('preact_resnet18_gn', base);
    const mish = createModel('preact_resnet18_gn', { ...base, activation: 'mish' });
    const x = randomImages(1, 16);
    const [yr, ym] = [relu.forward(x, false), mish.forward(x, false)];
    const diff = tf.max(tf.abs(tf.sub(yr, ym)));
    expect(diff.dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose([x, yr, ym, diff]);
    relu.dispose();
    mish.dispose();
  });
});

describe('segmentation models: per-pixel logits at the input size', () => {
  for (const { name } of listModels().filter((m) => m.task === 'segmentation')) {
    it(`${name}: [N, 32, 64, classes] from 32×64 inputs, training and eval; forward() refuses`, () => {
      const model = createModel(name, { numClasses: 5, lowResolution: false, widthMultiplier: smallWidth(name), seed: 1 });
      const x = tf.randomUniform<tf.Rank.R4>([2, 32, 64, 3], -1, 1, 'float32', 2);
      for (const training of [true, false]) {
        const y = model.segment(x, training);
        expect(y.shape).toEqual([2, 32, 64, 5]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
      expect(() => model.forward(x, false)).toThrow(/segmentation model gives per-pixel logits; use segmentWith/);
      x.dispose();
      model.dispose();
    });
  }

  it('a classifier refuses segment()', () => {
    const model = createModel('cnn', { numClasses: 3, lowResolution: true, seed: 1 });
    expect(() => model.segment(tf.zeros<tf.Rank.R4>([1, 8, 8, 3]), false)).toThrow(/cnn is a classifier; use forwardWith/);
    model.dispose();
  });
});
