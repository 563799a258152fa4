import { describe, expect, it } from 'vitest';
import { TrainUsageError } from '../../src-main/cli/commands/train';
import { parseRunSpec } from '../../src-worker/run-spec';
import { resolvePreset } from '../../src-worker/train/presets';
import { trainSpecOf } from './normlab-cli';

const run = ['--model', 'kn_cnn', '--dataset', 'synthetic', '--epochs', '2', '--batch-size', '64', '--lr', '2'];

describe('normlab train DP flags', () => {
  it('--dp with its options gives spec.dp, Mish by default, and a valid run spec', () => {
    const input = trainSpecOf([...run, '--dp', '--target-epsilon', '3', '--delta', '1e-5', '--max-grad-norm', '2', '--logical-batch', '256']);
    expect(input.dp).toEqual({ targetEpsilon: 3, delta: 1e-5, maxGradNorm: 2, logicalBatch: 256 });
    expect(input.activation).toBe('mish');
    expect(parseRunSpec(input).dp).toEqual({ targetEpsilon: 3, delta: 1e-5, maxGradNorm: 2, logicalBatch: 256 });
  });

  it('defaults to the paper budget ε = 8 unless the noise is given; --activation relu still wins', () => {
    expect(trainSpecOf([...run, '--dp', '--logical-batch', '128']).dp).toEqual({ targetEpsilon: 8, logicalBatch: 128 });
    const sigma = trainSpecOf([...run, '--dp', '--logical-batch', '128', '--noise-multiplier', '1.1', '--activation', 'relu']);
    expect(sigma.dp).toEqual({ noiseMultiplier: 1.1, logicalBatch: 128 });
    expect(sigma.activation).toBe('relu');
    expect(trainSpecOf(run).dp).toBeUndefined();
    expect(trainSpecOf(run).activation).toBeUndefined();
  });

  it('--preset dp-paper works, and DP flags refine its options instead of replacing them', () => {
    const input = trainSpecOf(['--preset', 'dp-paper', '--dataset', 'synthetic', '--max-grad-norm', '2', '--logical-batch', '512']);
    const spec = parseRunSpec(resolvePreset(input));
    expect(spec.dp).toEqual({ targetEpsilon: 8, delta: 8e-7, maxGradNorm: 2, logicalBatch: 512 });
    expect(spec).toMatchObject({ model: 'knresnet18', activation: 'mish', momentum: 0, weightDecay: 0, lr: 2, epochs: 100 });
    expect(parseRunSpec(resolvePreset(trainSpecOf(['--preset', 'dp-paper', '--dataset', 'synthetic']))).dp).toEqual({ targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 8192 });
  });

  it('refuses DP options without --dp, --dp without a logical batch, and bad numbers', () => {
    expect(() => trainSpecOf([...run, '--max-grad-norm', '2'])).toThrow(new TrainUsageError('--max-grad-norm: DP-SGD options; add --dp (or --preset dp-paper)'));
    expect(() => trainSpecOf([...run, '--dp'])).toThrow(/--dp needs --logical-batch N/);
    expect(() => trainSpecOf([...run, '--dp', '--logical-batch', '12.5'])).toThrow(/expected a positive integer, got "12.5"/);
    expect(() => trainSpecOf([...run, '--dp', '--logical-batch', '64', '--target-epsilon', 'eight'])).toThrow(/expected a number, got "eight"/);
  });
});
