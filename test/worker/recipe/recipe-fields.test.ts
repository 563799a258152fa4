import { describe, expect, it } from 'vitest';
import { applicableFields, runField, withoutDefaults } from '../../../src-worker/run-fields';
import { parseRunSpec } from '../../../src-worker/run-spec';
import { presetFields, resolvePreset } from '../../../src-worker/train/presets';

const paths = (spec: Record<string, unknown>) => applicableFields(spec).map((r) => r.path);
const base = { model: 'cnn', epochs: 2, batchSize: 16, lr: 0.1 };

describe('run fields of the ConvNeXt recipe, gradient accumulation and Cityscapes', () => {
  it('keep every existing config-group key: a spec that does not set them strips to what it set', () => {
    const spec = parseRunSpec({ ...base, dataset: 'folder', dataDir: '/d', imageSize: 64 });
    expect(withoutDefaults(spec)).toEqual({ ...base, dataset: 'folder', dataDir: '/d', imageSize: 64 });
    expect(spec).toMatchObject({ optimizer: 'sgd', accumulate: 1, modelEma: false, autoAugment: 'none', randomErasing: 0, raReps: 0 });
  });

  it('scope the data fields to their data set and the AdamW / EMA parameters to their switch', () => {
    const synthetic = paths(parseRunSpec({ ...base, dataset: 'synthetic' }));
    expect(synthetic).toEqual(expect.arrayContaining(['optimizer', 'labelSmoothing', 'mixupAlpha', 'cutmixAlpha', 'modelEma', 'accumulate']));
    for (const hidden of ['adamBeta1', 'emaDecay', 'emaSteps', 'autoAugment', 'randomErasing', 'raReps', 'trainCropSize', 'cropSize', 'scaleRange']) {
      expect(synthetic, hidden).not.toContain(hidden);
    }
    const folder = paths(parseRunSpec({ ...base, dataset: 'folder', optimizer: 'adamw', modelEma: true }));
    expect(folder).toEqual(expect.arrayContaining(['adamBeta1', 'adamBeta2', 'adamEps', 'emaDecay', 'emaSteps', 'autoAugment', 'randomErasing', 'raReps', 'trainCropSize', 'valResizeSize']));
    expect(folder).not.toContain('cropSize');
    const cityscapes = paths(parseRunSpec({ ...base, dataset: 'cityscapes' }));
    expect(cityscapes).toEqual(expect.arrayContaining(['cropSize', 'scaleRange']));
    expect(cityscapes).not.toContain('autoAugment');
  });

  it('lists the warm-up cosine parameters under their schedule kind, and list fields by element type', () => {
    expect(runField('schedule.warmupEpochs')).toMatchObject({ scheduleKind: 'warmup-cosine', defaultValue: 5, kind: 'integer' });
    expect(runField('schedule.warmupDecay')).toMatchObject({ defaultValue: 0.01 });
    expect(runField('cropSize')).toMatchObject({ kind: 'integerList', defaultValue: [1024, 512] });
    expect(runField('scaleRange')).toMatchObject({ kind: 'numberList', defaultValue: [0.5, 2.0] });
    expect(() => parseRunSpec({ ...base, dataset: 'cityscapes', cropSize: [1024] })).toThrow(/cropSize/);
  });

  it('convnext-paper is the reference\'s convnext.sh, and explicit fields win', () => {
    const spec = parseRunSpec({ ...resolvePreset({ preset: 'convnext-paper', dataDir: '/imagenet', model: 'knconvnext_tiny' }) });
    expect(spec).toMatchObject({
      model: 'knconvnext_tiny', dataset: 'folder', optimizer: 'adamw', lr: 1e-3, batchSize: 256, weightDecay: 0.05, normWeightDecay: 0,
      schedule: { kind: 'warmup-cosine', warmupEpochs: 5, warmupDecay: 0.01, minLr: 0 }, labelSmoothing: 0.1, mixupAlpha: 0.2, cutmixAlpha: 1,
      autoAugment: 'ta_wide', randomErasing: 0.1, modelEma: true, emaDecay: 0.99998, emaSteps: 32, trainCropSize: 176, valResizeSize: 232,
      imageSize: 224, raReps: 4, epochs: 600,
    });
  });

  it('cityscapes-paper is batch 8 accumulated twice with SGD and poly decay', () => {
    expect(presetFields('cityscapes-paper')).toMatchObject({
      dataset: 'cityscapes', batchSize: 8, accumulate: 2, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, epochs: 500, schedule: { kind: 'poly', power: 0.9 },
    });
  });
});
