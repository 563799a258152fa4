import { describe, expect, it } from 'vitest';
import { parseRunSpec } from '../../../src-worker/run-spec';
import { deviceLabel, InvalidRunError, normalizeInputs, validateSpec } from '../../../src-worker/train/run';

describe('deviceLabel', () => {
  it('reports the CUDA_VISIBLE_DEVICES it passes through to tfjs-node-gpu', () => {
    const gpu = { backend: 'tensorflow' as const, package: '@tensorflow/tfjs-node-gpu' as const, skipped: [] };
    expect(deviceLabel(gpu, { CUDA_VISIBLE_DEVICES: '1' })).toBe('cuda:1');
    expect(deviceLabel(gpu, { CUDA_VISIBLE_DEVICES: '-1' })).toBe('cpu');
    expect(deviceLabel(gpu, {})).toBe('cpu');
    expect(deviceLabel({ backend: 'wasm', skipped: [] }, { CUDA_VISIBLE_DEVICES: '0' })).toBe('cpu');
  });
});

describe('normalizeInputs', () => {
  const spec = (model: string, dataset: 'cifar100' | 'synthetic', normalizeInputs?: boolean) =>
    parseRunSpec({ model, dataset, epochs: 1, batchSize: 8, lr: 0.1, normalizeInputs });
  it('follows the reference on CIFAR: raw images for KernelNorm models, standardised for the others', () => {
    expect(normalizeInputs(spec('knresnet18', 'cifar100'))).toBe(false);
    expect(normalizeInputs(spec('resnet18_bn', 'cifar100'))).toBe(true);
  });
  it('standardises elsewhere unless told otherwise', () => {
    expect(normalizeInputs(spec('knresnet18', 'synthetic'))).toBe(true);
    expect(normalizeInputs(spec('knresnet18', 'synthetic', false))).toBe(false);
    expect(normalizeInputs(spec('knresnet18', 'cifar100', true))).toBe(true);
  });
});

describe('validateSpec', () => {
  const ok = { model: 'kn_cnn', dataset: 'synthetic' as const, epochs: 1, batchSize: 8, lr: 0.1 };
  it('accepts a complete synthetic spec', () => {
    expect(() => validateSpec(parseRunSpec(ok))).not.toThrow();
  });
  it('rejects resume without a checkpoint directory', () => {
    expect(() => validateSpec(parseRunSpec({ ...ok, resume: true }))).toThrow(/resume needs checkpointDir/);
  });
  it('accepts DP specs for KN, GN, LN and unnormalised models; refuses BatchNorm and a DP spec without ε or σ', () => {
    const dp = { noiseMultiplier: 1, logicalBatch: 64 };
    for (const model of ['kn_cnn', 'cnn', 'resnet18_gn', 'preact_resnet18_ln']) {
      expect(() => validateSpec(parseRunSpec({ ...ok, model, dp })), model).not.toThrow();
    }
    for (const model of ['resnet18_bn', 'preact_resnet34_bn']) {
      const attempt = () => validateSpec(parseRunSpec({ ...ok, model, dp }));
      expect(attempt).toThrow(InvalidRunError);
      expect(attempt).toThrow(`DP-SGD cannot train ${model}: BatchNorm mixes examples in a batch; use a KN, GN or LN model`);
    }
    expect(() => validateSpec(parseRunSpec({ ...ok, dp: { logicalBatch: 64 } }))).toThrow(/dp: give targetEpsilon .* or noiseMultiplier/);
  });
});
