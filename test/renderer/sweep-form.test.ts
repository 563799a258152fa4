import { describe, expect, it } from 'vitest';
import { builderFields, builderGroup, builderGroups, buildSweepSpec, defaultSweepForm, fieldAppliesToForm, fieldPlaceholder, parseNumberList, type ModelKinds, type SweepForm } from '../../src-renderer/lib/sweep-form';
import { runField, runFields } from '../../src-worker/run-fields';
import { expandSweep, parseSweepSpec } from '../../src-main/sweeps';

function form(patch: Partial<SweepForm>): SweepForm {
  return { ...defaultSweepForm(), name: 'kn-vs-bn', models: ['knresnet18', 'resnet18_bn'], ...patch };
}

describe('parseNumberList', () => {
  it('accepts commas, spaces and exponents', () => {
    expect(parseNumberList('0.1, 0.05 1e-2')).toEqual({ values: [0.1, 0.05, 0.01], error: null });
  });
  it('names the offending item', () => {
    expect(parseNumberList('32, x').error).toBe('"x" is not a number');
    expect(parseNumberList('32, 12.5', { integer: true }).error).toBe('"12.5" must be a whole number');
    expect(parseNumberList('0', { positive: true }).error).toBe('"0" must be greater than 0');
    expect(parseNumberList('32 32').error).toBe('32 is listed twice');
    expect(parseNumberList('  ').error).toBe('enter at least one value');
  });
});

describe('sweep builder form → sweep spec', () => {
  it('counts models × batch sizes × lrs × epochs × widths × repeats, as the real expander does', () => {
    const result = buildSweepSpec(form({ batchSizes: '32, 128', lrValues: '0.1 0.05', repeats: '3' }));
    expect(result.errors).toEqual({});
    expect(result.runCount).toBe(2 * 2 * 2 * 3);
    // the spec is valid for the real schema and expands to exactly that many runs
    expect(expandSweep(parseSweepSpec(result.spec)).runs).toHaveLength(result.runCount);
    // single values are fixed fields, lists are grid axes
    expect(result.spec).toMatchObject({ base: { dataset: 'synthetic', epochs: 2, width: 1, statsEvery: 50 }, grid: { model: ['knresnet18', 'resnet18_bn'], batchSize: [32, 128], lr: [0.1, 0.05] }, repeats: 3 });
  });

  it('counts an lr search as one run per family now and up to maxSteps + repeats − 1 later', () => {
    const result = buildSweepSpec(form({ lrMode: 'search', lrSearch: { start: '0.2', factor: '0.5', maxSteps: '4', repeats: '3' } }));
    expect(result.errors).toEqual({});
    expect(result.runCount).toBe(2);
    expect(result.maxRunCount).toBe(2 * (4 + 3 - 1));
    expect(result.spec).toMatchObject({ lrSearch: { start: 0.2, factor: 0.5, maxSteps: 4, repeats: 3 } });
    expect(result.spec).not.toHaveProperty('repeats');
    expect(expandSweep(parseSweepSpec(result.spec)).runs).toHaveLength(2);
  });

  it('reports every invalid field and produces no spec', () => {
    const result = buildSweepSpec(form({ name: ' ', models: [], batchSizes: '32, x', epochs: '0', widths: '8', repeats: '1.5', dataset: 'cifar10', dataDir: '' }));
    expect(result.spec).toBeNull();
    expect(Object.keys(result.errors).sort()).toEqual(['batchSizes', 'dataDir', 'epochs', 'models', 'name', 'repeats', 'widths']);
    expect(result.errors.batchSizes).toBe('"x" is not a number');
    expect(result.errors.widths).toBe('width multipliers go up to 4');
  });

  it('rejects an lr search factor of 1 or more', () => {
    const result = buildSweepSpec(form({ lrMode: 'search', lrSearch: { start: '0.2', factor: '1.5', maxSteps: '4', repeats: '3' } }));
    expect(result.errors['lrSearch.factor']).toMatch(/below 1/);
  });

  it('uses explicit seeds and a data folder for real data sets', () => {
    const result = buildSweepSpec(form({ dataset: 'cifar10', dataDir: '/data/cifar', seedMode: 'seeds', seeds: '7 8' }));
    expect(result.runCount).toBe(2 * 2);
    expect(result.spec).toMatchObject({ base: { dataset: 'cifar10', dataDir: '/data/cifar' }, seeds: [7, 8] });
    expect(result.spec!.base).not.toHaveProperty('syntheticTrainSize');
  });

  it('DP-SGD: clipping bounds are a grid axis the run count includes, Mish is set, BatchNorm refused', () => {
    const dp = { enabled: true, targetEpsilon: '8', delta: '8e-7', clipValues: '1 2', logicalBatch: '128' };
    const norms = new Map([['knresnet18', 'kn'], ['resnet18_gn', 'gn'], ['resnet18_bn', 'bn']]);
    const result = buildSweepSpec(form({ models: ['knresnet18', 'resnet18_gn'], lrValues: '2 3 4', dp }), { modelNorms: norms });
    expect(result.errors).toEqual({});
    expect(result.runCount).toBe(2 * 3 * 2 * 3);
    expect(expandSweep(parseSweepSpec(result.spec)).runs).toHaveLength(result.runCount);
    expect(result.spec).toMatchObject({ base: { activation: 'mish', dp: { targetEpsilon: 8, delta: 8e-7, logicalBatch: 128 } }, grid: { 'dp.maxGradNorm': [1, 2] } });
    const one = buildSweepSpec(form({ models: ['knresnet18'], dp: { ...dp, clipValues: '1' } }), { modelNorms: norms });
    expect(one.spec).toMatchObject({ base: { dp: { maxGradNorm: 1 } } });
    expect(one.spec!.grid).not.toHaveProperty(['dp.maxGradNorm']);
    const bn = buildSweepSpec(form({ dp }), { modelNorms: norms });
    expect(bn.errors.models).toBe('DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model');
    const bad = buildSweepSpec(form({ dp: { ...dp, delta: '1.5', logicalBatch: '0.5' } }), { modelNorms: norms });
    expect(bad.errors).toMatchObject({ 'dp.delta': 'δ must be below 1 (the paper: 8e-7, below 1/N)', 'dp.logicalBatch': '"0.5" must be a whole number' });
    // without DP nothing DP-related is added and BatchNorm is fine
    expect(buildSweepSpec(form({}), { modelNorms: norms }).spec!.base).not.toHaveProperty('dp');
  });
});

describe('sweep builder: the training fields come from the run spec schema', () => {
  const kinds: ModelKinds = new Map([
    ['knresnet18', { norm: 'kn', family: 'knresnet' }], ['resnet18_gn', { norm: 'gn', family: 'resnet' }],
    ['resnet18_bn', { norm: 'bn', family: 'resnet' }], ['cnn', { norm: 'nn', family: 'cnn' }],
  ]);
  const withFields = (patch: Partial<SweepForm>, training: Record<string, string>) =>
    form({ ...patch, training: { ...defaultSweepForm().training, ...training } });

  it('offers what the CLI has: momentum, weight decay, Nesterov, GroupNorm groups, KN dropout, augmentation, activation', () => {
    expect(builderFields().map((f) => f.key)).toEqual(expect.arrayContaining(['momentum', 'nesterov', 'weightDecay', 'groups', 'knDropout', 'augment', 'activation', 'normalizeInputs', 'lowResolution']));
    expect(Object.keys(defaultSweepForm().training).sort()).toEqual(builderFields().map((f) => f.key).sort());
  });

  it('puts a field in base, several values on a grid axis the run count includes, and leaves empty ones out', () => {
    const result = buildSweepSpec(withFields({ models: ['knresnet18'] }, { momentum: '0.9, 0.5', weightDecay: '0', augment: 'off', activation: 'mish' }), { modelKinds: kinds });
    expect(result.errors).toEqual({});
    expect(result.runCount).toBe(2 * 3);
    expect(result.spec).toMatchObject({ base: { weightDecay: 0, augment: false, activation: 'mish' }, grid: { momentum: [0.9, 0.5] } });
    expect(result.spec!.base).not.toHaveProperty('nesterov');
    const runs = expandSweep(parseSweepSpec(result.spec)).runs;
    expect(runs).toHaveLength(result.runCount);
    expect(new Set(runs.map((r) => r.momentum))).toEqual(new Set([0.9, 0.5]));
    expect(runs.every((r) => r.augment === false && r.weightDecay === 0)).toBe(true);
  });

  it('sets GroupNorm groups only when a GroupNorm model is picked, KN dropout only with a KN model', () => {
    const knOnly = buildSweepSpec(withFields({ models: ['knresnet18'] }, { groups: '16', knDropout: '0.1' }), { modelKinds: kinds });
    expect(knOnly.spec!.base).toMatchObject({ knDropout: 0.1 });
    expect(knOnly.spec!.base).not.toHaveProperty('groups');
    const gn = buildSweepSpec(withFields({ models: ['resnet18_gn', 'resnet18_bn'] }, { groups: '16', knDropout: '0.1' }), { modelKinds: kinds });
    expect(gn.spec!.base).toMatchObject({ groups: 16 });
    expect(gn.spec!.base).not.toHaveProperty('knDropout');
    const toy = buildSweepSpec(withFields({ models: ['cnn'] }, { lowResolution: 'on' }), { modelKinds: kinds });
    expect(toy.spec!.base).not.toHaveProperty('lowResolution');
  });

  it('checks each value with the field\'s own schema', () => {
    const bad = buildSweepSpec(withFields({ models: ['resnet18_gn'] }, { momentum: '0.9 2', groups: '1.5' }), { modelKinds: kinds });
    expect(bad.spec).toBeNull();
    expect(bad.errors['training.momentum']).toMatch(/^2: Too big: expected number to be <=1/);
    expect(bad.errors['training.groups']).toBe('"1.5" must be a whole number');
  });

  it('builds a schedule from its kind and the parameters given; the schema fills the rest', () => {
    const result = buildSweepSpec(form({ schedule: { kind: 'multistep', params: { ...defaultSweepForm().schedule.params, milestones: '5 8' } } }));
    expect(result.spec!.base).toMatchObject({ schedule: { kind: 'multistep', milestones: [5, 8] } });
    expect(expandSweep(parseSweepSpec(result.spec)).runs[0].schedule).toEqual({ kind: 'multistep', milestones: [5, 8], gamma: 0.1 });
    expect(buildSweepSpec(form({})).spec!.base).not.toHaveProperty('schedule');
    const bad = buildSweepSpec(form({ schedule: { kind: 'cosine', params: { ...defaultSweepForm().schedule.params, decay: '3' } } }));
    expect(bad.errors['schedule.decay']).toMatch(/Too big/);
  });

  it('says what an empty field gets: the preset\'s value, else the default', () => {
    expect(fieldPlaceholder(runField('momentum'), '')).toBe('0.9 (default)');
    expect(fieldPlaceholder(runField('momentum'), 'dp-paper')).toBe('0 (dp-paper)');
    expect(fieldPlaceholder(runField('augment'), '')).toBe('on (default)');
    expect(defaultSweepForm().dp).toMatchObject({ targetEpsilon: '8', delta: '8e-7', clipValues: '1' });
  });
});

describe('sweep builder: every run field, grouped', () => {
  it('offers every run-spec field without an input of its own, each in exactly one group', () => {
    const dedicated = ['runId', 'model', 'dataset', 'dataDir', 'syntheticTrainSize', 'syntheticTestSize', 'epochs', 'batchSize', 'lr', 'width', 'seed', 'statsEvery', 'preset', 'dp', 'checkpointDir', 'resume', 'schedule'];
    const offered = builderFields().map((f) => f.key);
    expect([...offered, ...dedicated].sort()).toEqual(runFields().map((f) => f.key).sort());
    const grouped = builderGroups().flatMap((g) => g.fields.map((f) => f.key));
    expect(grouped.sort()).toEqual([...offered].sort());
    // what the issue found missing, and the options the CLI has beyond it
    for (const key of ['momentum', 'weightDecay', 'groups', 'augment', 'adamBeta1', 'emaDecay', 'cropSize', 'backend', 'checkpointEvery']) expect(offered).toContain(key);
  });

  it('groups by what a field is about: data, optimizer, normalization, execution', () => {
    const keys = (id: Parameters<typeof builderGroup>[0]) => builderGroup(id).fields.map((f) => f.key);
    expect(keys('data')).toEqual(expect.arrayContaining(['augment', 'normalizeInputs', 'mixupAlpha', 'autoAugment']));
    expect(keys('optimisation')).toEqual(expect.arrayContaining(['optimizer', 'momentum', 'nesterov', 'weightDecay', 'adamBeta1', 'accumulate']));
    expect(keys('normalization')).toEqual(expect.arrayContaining(['knDropout', 'groups', 'activation', 'lowResolution']));
    expect(keys('execution')).toEqual(expect.arrayContaining(['backend', 'checkpointEvery', 'progressEvery']));
    for (const f of builderGroup('execution').fields) expect(f.meta.role).toBe('execution');
  });

  it('shows AdamW options only when AdamW is chosen (by the field or the preset), EMA options only with the EMA on', () => {
    const base = defaultSweepForm();
    const beta = runField('adamBeta1');
    expect(fieldAppliesToForm(beta, base)).toBe(false);
    expect(fieldAppliesToForm(beta, { ...base, training: { ...base.training, optimizer: 'adamw' } })).toBe(true);
    expect(fieldAppliesToForm(runField('emaDecay'), { ...base, training: { ...base.training, modelEma: 'on' } })).toBe(true);
    expect(fieldAppliesToForm(runField('emaDecay'), base)).toBe(false);
  });

  it('takes a list-valued field as one value, not a grid axis', () => {
    const result = buildSweepSpec(form({ dataset: 'cityscapes', dataDir: '/data/cityscapes', models: ['fc_knresnet18'], training: { ...defaultSweepForm().training, cropSize: '512, 512' } }));
    expect(result.errors).toEqual({});
    expect(result.spec!.base).toMatchObject({ cropSize: [512, 512] });
    expect(result.spec!.grid).not.toHaveProperty('cropSize');
  });
});
