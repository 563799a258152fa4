import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { mixSeed } from '../../../src-worker/models/init';
import { fromTorchPadding, maxPool2d } from '../../../src-worker/models/layers';
import { groupsFor, scaleWidth } from '../../../src-worker/models/options';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('fromTorchPadding', () => {
  it("maps F.pad's (left, right, top, bottom) to [top, bottom, left, right]", () => {
    expect(fromTorchPadding([1, 0, 2, 3])).toEqual([2, 3, 1, 0]);
    expect(fromTorchPadding([0, 1, 0, 1])).toEqual([0, 1, 0, 1]);
  });

  it("expands an int and a pair the way the reference's KNConv2d does", () => {
    expect(fromTorchPadding(2)).toEqual([2, 2, 2, 2]);
    // the reference turns (a, b) into F.pad (a, a, b, b): a pads left/right, b pads top/bottom
    expect(fromTorchPadding([1, 3])).toEqual([3, 3, 1, 1]);
  });
});

describe('maxPool2d', () => {
  it('pads like PyTorch (ignored positions, windows centred by the padding)', () => {
    // all-negative input: zero padding would show up as 0, TF "same" padding would shift the windows
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => -(i + 1)), [1, 4, 4, 1]);
    const y = maxPool2d(x, 3, 2, 1);
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(y.dataSync())).toEqual([-1, -2, -5, -6]);
    tf.dispose([x, y]);
  });

  it('floors odd sizes without padding', () => {
    const x = tf.zeros<tf.Rank.R4>([1, 5, 5, 2]);
    const y = maxPool2d(x, 2, 2);
    expect(y.shape).toEqual([1, 2, 2, 2]);
    tf.dispose([x, y]);
  });
});

describe('width and group rules', () => {
  it('scales widths with rounding, at least one channel', () => {
    expect(scaleWidth(724, 1)).toBe(724);
    expect(scaleWidth(724, 0.125)).toBe(91); // 90.5 rounds up
    expect(scaleWidth(201, 0.0625)).toBe(13);
    expect(scaleWidth(3, 0.01)).toBe(1);
  });

  it('reduces GroupNorm groups to the largest divisor of the channels', () => {
    expect(groupsFor(512, 32)).toBe(32);
    expect(groupsFor(8, 32)).toBe(8);
    expect(groupsFor(48, 32)).toBe(24);
    expect(groupsFor(13, 32)).toBe(13);
    expect(groupsFor(26, 4)).toBe(2);
    expect(groupsFor(7, 4)).toBe(1);
  });
});

describe('mixSeed', () => {
  it('is deterministic and spreads nearby inputs', () => {
    expect(mixSeed(1, 2, 3)).toBe(mixSeed(1, 2, 3));
    const seeds = new Set<number>();
    for (let step = 0; step < 200; step++) for (let layer = 0; layer < 50; layer++) seeds.add(mixSeed(42, step, layer));
    expect(seeds.size).toBe(10_000);
    expect(mixSeed(1, 2 ** 33)).not.toBe(mixSeed(1, 0));
  });
});
