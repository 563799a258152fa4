import { describe, expect, it } from 'vitest';
import { parseRunSpec } from '../../../src-worker/run-spec';
import { listPresets, resolvePreset } from '../../../src-worker/train/presets';

describe('presets', () => {
  it('lists the paper recipes', () => {
    const names = listPresets().map((p) => p.name);
    expect(names).toContain('cifar100-paper');
    expect(names).toContain('imagenet-paper');
    expect(names).toContain('dp-paper');
  });

  it('dp-paper carries the DP options and no momentum or weight decay', () => {
    const spec = parseRunSpec(resolvePreset({ preset: 'dp-paper', dataDir: '/c10' }));
    expect(spec).toMatchObject({ dataset: 'cifar10', momentum: 0, weightDecay: 0, dp: { targetEpsilon: 8, logicalBatch: 8192 } });
  });

  it('cifar100-paper fills the recipe and explicit fields win', () => {
    const spec = parseRunSpec(resolvePreset({ preset: 'cifar100-paper', model: 'knresnet18', dataDir: '/data', lr: 0.05, epochs: undefined }));
    expect(spec).toMatchObject({
      dataset: 'cifar100', epochs: 150, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
      schedule: { kind: 'cosine', decay: 0.01 }, preset: 'cifar100-paper', lowResolution: true,
    });
  });

  it('imagenet-paper divides lr by 10 at 30/60/90 with wd 1e-4 and batch 256', () => {
    const spec = parseRunSpec(resolvePreset({ preset: 'imagenet-paper', model: 'resnet18_bn', dataDir: '/in' }));
    expect(spec).toMatchObject({
      dataset: 'folder', epochs: 100, batchSize: 256, lr: 0.1, weightDecay: 1e-4, momentum: 0.9,
      schedule: { kind: 'multistep', milestones: [30, 60, 90], gamma: 0.1 }, imageSize: 224,
    });
  });

  it('does not let callers mutate the registry through the result', () => {
    const a = resolvePreset({ preset: 'imagenet-paper' });
    (a.schedule as { milestones: number[] }).milestones.push(120);
    expect(resolvePreset({ preset: 'imagenet-paper' }).schedule).toEqual({ kind: 'multistep', milestones: [30, 60, 90], gamma: 0.1 });
  });

  it('an unknown preset names the valid ones', () => {
    expect(() => resolvePreset({ preset: 'cifar10-fast' })).toThrow(/unknown preset "cifar10-fast"; valid presets: cifar100-paper, imagenet-paper/);
  });

  it('without a preset the input passes through', () => {
    expect(resolvePreset({ model: 'cnn', lr: 0.2 })).toEqual({ model: 'cnn', lr: 0.2 });
  });
});
