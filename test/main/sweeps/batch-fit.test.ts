import { describe, expect, it } from 'vitest';
import { problems } from './helpers';
import { expandSweep, parseSweepSpec } from '../../../src-main/sweeps';

const base = { model: 'kn_cnn', dataset: 'synthetic', syntheticTrainSize: 50, epochs: 1, lr: 0.1 };

describe('a batch larger than the training set, refused at submission', () => {
  it('names the grid element and the training set it does not fit (synthetic: its size is a spec field)', () => {
    expect(problems({ name: 'x', base, grid: { batchSize: [16, 50, 64] } })).toEqual([
      'grid.batchSize (grid point batchSize=64): batch size 64 is larger than the training set (50 images of synthetic); lower batchSize or raise syntheticTrainSize',
    ]);
    // the default synthetic set has 5000 images
    const { syntheticTrainSize: _s, ...defaultSize } = base;
    expect(problems({ name: 'x', base: { ...defaultSize, batchSize: 8192 } })).toEqual([
      'base.batchSize: batch size 8192 is larger than the training set (5000 images of synthetic); lower batchSize or raise syntheticTrainSize',
    ]);
    expect(expandSweep(parseSweepSpec({ name: 'x', base: { ...defaultSize, batchSize: 5000 } })).runs).toHaveLength(1);
  });

  it('knows CIFAR\'s 50000 training images without reading them, and leaves folder sets to the worker', () => {
    const cifar = { ...base, syntheticTrainSize: undefined, dataset: 'cifar100', dataDir: '/nowhere' };
    expect(problems({ name: 'x', base: { ...cifar, batchSize: 65536 } })).toEqual([
      'base.batchSize: batch size 65536 is larger than the training set (50000 images of cifar100); lower batchSize',
    ]);
    expect(expandSweep(parseSweepSpec({ name: 'x', base: { ...cifar, dataset: 'folder', batchSize: 65536 } })).runs).toHaveLength(1);
  });

  it('under DP-SGD checks the logical batch, not the micro-batch, through the dp-paper preset too', () => {
    // dp-paper: logical batch 8192, more than the synthetic set's 5000 images
    expect(problems({ name: 'x', base: { preset: 'dp-paper', dataset: 'synthetic', epochs: 1 } })).toEqual([
      'base.dp.logicalBatch: the DP-SGD logical batch 8192 is larger than the training set (5000 images of synthetic); lower dp.logicalBatch or raise syntheticTrainSize',
    ]);
    const { syntheticTrainSize: _s, ...sizeless } = base;
    expect(problems({ name: 'x', base: { ...sizeless, batchSize: 8, dp: { noiseMultiplier: 1, logicalBatch: 64 } }, grid: { syntheticTrainSize: [100, 50] } })).toEqual([
      'base.dp.logicalBatch (grid point syntheticTrainSize=50): the DP-SGD logical batch 64 is larger than the training set (50 images of synthetic); lower dp.logicalBatch or raise syntheticTrainSize',
    ]);
    expect(problems({ name: 'x', base: { preset: 'dp-paper', dataset: 'synthetic', syntheticTrainSize: 50, epochs: 1 }, grid: { 'dp.logicalBatch': [32, 64] } })).toEqual([
      'grid["dp.logicalBatch"] (grid point dp.logicalBatch=64): the DP-SGD logical batch 64 is larger than the training set (50 images of synthetic); lower dp.logicalBatch or raise syntheticTrainSize',
    ]);
    // the micro-batch only caps how much of a sampled batch goes through the model at once
    const dp = parseSweepSpec({ name: 'x', base: { ...base, batchSize: 64, dp: { noiseMultiplier: 1, logicalBatch: 32 } } });
    expect(expandSweep(dp).runs).toHaveLength(1);
  });
});
