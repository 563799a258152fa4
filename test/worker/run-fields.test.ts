import { describe, expect, it } from 'vitest';
import { EXECUTION_FIELDS } from '../../src-worker/run-config';
import { applicableFields, dpFields, runField, runFields, withoutDefaults } from '../../src-worker/run-fields';
import { parseRunSpec } from '../../src-worker/run-spec';
import { resolvePreset } from '../../src-worker/train/presets';

const paths = (spec: Record<string, unknown>, model?: Parameters<typeof applicableFields>[1]) => applicableFields(spec, model).map((r) => r.path);

describe('run fields read from the schema', () => {
  it('carry type, default, description, flag metadata and role for every field', () => {
    expect(runField('momentum')).toMatchObject({ kind: 'number', defaultValue: 0.9, required: false, description: 'SGD momentum' });
    expect(runField('epochs')).toMatchObject({ kind: 'integer', allowsZero: false, required: true });
    expect(runField('statsEvery')).toMatchObject({ kind: 'integer', allowsZero: true, meta: { role: 'execution' } });
    expect(runField('dp.logicalBatch')).toMatchObject({ required: true, meta: { scope: { dp: true } } });
    expect(runField('schedule.gamma')).toMatchObject({ scheduleKind: 'multistep', defaultValue: 0.1 });
    expect(runField('groups').meta.scope).toEqual({ norms: ['gn'] });
    for (const f of [...runFields(), ...dpFields()]) expect(f.description, f.path).not.toBe('');
  });

  it('execution fields are the ones the group key and config hash always left out', () => {
    expect([...EXECUTION_FIELDS].sort()).toEqual(['backend', 'checkpointDir', 'checkpointEvery', 'logEverySteps', 'preset', 'progressEvery', 'resume', 'runId', 'statsEvery']);
  });

  it('withoutDefaults drops default values at every depth, keeps the rest', () => {
    const spec = parseRunSpec({ model: 'm', dataset: 'synthetic', epochs: 1, batchSize: 2, lr: 0.1, schedule: { kind: 'poly' }, dp: { logicalBatch: 8, maxGradNorm: 2 } });
    expect(withoutDefaults(spec)).toEqual({
      model: 'm', dataset: 'synthetic', epochs: 1, batchSize: 2, lr: 0.1, schedule: { kind: 'poly' }, dp: { logicalBatch: 8, maxGradNorm: 2 },
    });
  });
});

describe('applicableFields: what a run-detail config view shows', () => {
  const kn = { norm: 'kn' as const, family: 'knresnet' };
  const gn = { norm: 'gn' as const, family: 'resnet' };
  const base = { dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.1, syntheticTrainSize: 64 };

  it('shows KN dropout but not GroupNorm groups on a KernelNorm run, and the reverse on a GroupNorm run', () => {
    const knRun = paths(parseRunSpec({ ...base, model: 'knresnet18' }), kn);
    expect(knRun).toContain('knDropout');
    expect(knRun).not.toContain('groups');
    const gnRun = paths(parseRunSpec({ ...base, model: 'resnet18_gn' }), gn);
    expect(gnRun).toContain('groups');
    expect(gnRun).not.toContain('knDropout');
  });

  it('shows the data folder or the synthetic sizes by data set, DP options only under DP, and only the schedule kind\'s parameters', () => {
    const synthetic = paths(parseRunSpec({ ...base, model: 'knresnet18' }), kn);
    expect(synthetic).toEqual(expect.arrayContaining(['syntheticTrainSize', 'schedule', 'schedule.decay']));
    expect(synthetic.filter((p) => p === 'dataDir' || p === 'imageSize' || p.startsWith('dp') || p === 'schedule.gamma')).toEqual([]);
    const dp = paths(parseRunSpec(resolvePreset({ preset: 'dp-paper', dataDir: '/c10' })), kn);
    expect(dp).toEqual(expect.arrayContaining(['dataDir', 'dp.targetEpsilon', 'dp.maxGradNorm', 'dp.logicalBatch', 'schedule.milestones', 'schedule.gamma']));
    expect(dp).not.toContain('syntheticTrainSize');
    expect(dp).not.toContain('schedule.decay');
  });

  it('lists experiment fields before execution fields and marks defaults', () => {
    const rows = applicableFields(parseRunSpec({ ...base, model: 'knresnet18', momentum: 0.5 }), kn);
    const firstExecution = rows.findIndex((r) => r.role === 'execution');
    expect(rows.slice(firstExecution).every((r) => r.role === 'execution')).toBe(true);
    expect(rows.find((r) => r.path === 'momentum')).toMatchObject({ value: 0.5, isDefault: false, label: 'Momentum' });
    expect(rows.find((r) => r.path === 'weightDecay')).toMatchObject({ value: 5e-4, isDefault: true });
    expect(rows.find((r) => r.path === 'backend')).toMatchObject({ role: 'execution', isDefault: true });
  });

  it('shows fields that depend on the model when the registry has not said what the model is', () => {
    expect(paths(parseRunSpec({ ...base, model: 'knresnet18' }))).toEqual(expect.arrayContaining(['groups', 'knDropout']));
  });
});
