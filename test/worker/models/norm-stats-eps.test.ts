import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel } from '../../../src-worker/models';

/** The model hands each norm layer's own ε to the statistics, so the near-constant share is measured against it. */
describe('near-constant share in a model’s statistics', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  async function statsOf(name: string, x: tf.Tensor4D, widthMultiplier = 0.125) {
    const model = createModel(name, { numClasses: 4, lowResolution: true, widthMultiplier, seed: 2 });
    try {
      tf.dispose(model.forwardWith(x, { training: true, collectStats: true }));
      const eps = new Map(model.layers().map((l) => [l.path, l.eps]));
      return { stats: await model.takeNormStats(), eps };
    } finally {
      model.dispose();
    }
  }

  it('knresnet18: a black image makes every window of the first KernelNorm layer flat, a noisy one none', async () => {
    const black = tf.zeros<tf.Rank.R4>([2, 16, 16, 3]);
    const noisy = tf.randomUniform<tf.Rank.R4>([2, 16, 16, 3], -1, 1, 'float32', 3);
    const dark = await statsOf('knresnet18', black);
    const lit = await statsOf('knresnet18', noisy);
    for (const s of [...dark.stats, ...lit.stats]) {
      expect(s.std.nearConstant, s.layer).toMatchObject({ unit: 'windows', eps: dark.eps.get(s.layer) ?? 1e-5, factor: 10 });
    }
    expect(dark.stats[0].std.nearConstant?.share).toBe(1);
    expect(lit.stats[0].std.nearConstant?.share).toBe(0);
    expect(dark.stats[0].std.nearConstant?.total).toBe(lit.stats[0].std.nearConstant?.total);
    tf.dispose([black, noisy]);
  });

  it('convnext_tiny: its LayerNorms are measured against their ε of 1e-6, per pixel', async () => {
    const x = tf.randomUniform<tf.Rank.R4>([1, 32, 32, 3], -1, 1, 'float32', 5);
    const { stats, eps } = await statsOf('convnext_tiny', x);
    expect(stats.length).toBeGreaterThan(0);
    for (const s of stats) {
      expect(eps.get(s.layer), s.layer).toBe(1e-6);
      expect(s.std.nearConstant, s.layer).toMatchObject({ unit: 'positions', eps: 1e-6 });
    }
    x.dispose();
  });
});
