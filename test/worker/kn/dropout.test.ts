import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { dropoutMask } from '../../../src-worker/kn/dropout';

describe('dropoutMask', () => {
  it('drops about rate of the entries, scales the rest by 1/(1-rate), and is the same on every backend', async () => {
    const masks: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const m = dropoutMask([4, 50, 50, 10], 0.05, 42);
      masks.push(m.dataSync() as Float32Array);
      m.dispose();
    }
    expect(masks[1]).toEqual(masks[0]);
    const values = masks[0];
    const dropped = values.filter((v) => v === 0).length / values.length;
    // 100k Bernoulli(0.05) draws: standard error 0.0007.
    expect(Math.abs(dropped - 0.05)).toBeLessThan(0.004);
    expect(new Set(values)).toEqual(new Set([0, Math.fround(1 / 0.95)]));
  });

  it('depends on the seed, including seeds that differ only beyond 32 bits', async () => {
    await initBackend('cpu');
    const draw = (seed: number) => tf.tidy(() => Array.from(dropoutMask([1000], 0.5, seed).dataSync()));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(2 ** 40 + 1)).not.toEqual(draw(2 ** 41 + 1));
    expect(draw(0.25)).not.toEqual(draw(0.5));
  });
});
