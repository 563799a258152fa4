import { describe, expect, it } from 'vitest';
import { ExecutorSpecError, resolveExecutorSpec, slurmSchedulerOptions } from '../../src-main/slurm/executor-spec';
import { configGroupKey } from '../../src-main/store/group-key';
import { expandSweep, parseSweepSpec } from '../../src-main/sweeps';

describe('executor spec and flags', () => {
  it('is local unless the spec or --executor says slurm', () => {
    expect(resolveExecutorSpec(undefined)).toEqual({ kind: 'local' });
    expect(resolveExecutorSpec(undefined, { executor: 'slurm' })).toEqual({ kind: 'slurm' });
  });

  it('takes the spec\'s executor block, with CLI flags overriding its fields', () => {
    const spec = { kind: 'slurm', partition: 'gpu', gres: 'gpu:1', time: '04:00:00', account: 'lab', extra: ['--constraint=a100'] };
    expect(resolveExecutorSpec(spec, { time: '1-00:00:00', maxJobs: 10 })).toEqual({ ...spec, time: '1-00:00:00', maxJobs: 10 });
    expect(resolveExecutorSpec(spec, { sbatchArg: ['--mem=16G'] })).toMatchObject({ extra: ['--mem=16G'] });
    // --executor local wins over the spec's slurm block
    expect(resolveExecutorSpec(spec, { executor: 'local' })).toEqual({ kind: 'local' });
  });

  it('refuses bad fields with messages naming them', () => {
    expect(() => resolveExecutorSpec({ kind: 'slurm', time: '4 hours' })).toThrow(/executor\.time: a Slurm time limit/);
    expect(() => resolveExecutorSpec({ kind: 'slurm', extra: ['constraint=a100'] })).toThrow(/executor\.extra\.0: an sbatch flag/);
    expect(() => resolveExecutorSpec({ kind: 'slurm', partiton: 'gpu' })).toThrow(/partiton/);
    expect(() => resolveExecutorSpec({ kind: 'pbs' })).toThrow(ExecutorSpecError);
    expect(() => resolveExecutorSpec(undefined, { gres: 'gpu:1' })).toThrow('--gres only apply to --executor slurm');
  });

  it('puts the run folders next to the DB unless a shared workdir is given', () => {
    expect(slurmSchedulerOptions({ kind: 'slurm', gres: 'gpu:1' }, '/shared/lab/normlab.db')).toEqual({ gres: 'gpu:1', checkpointRoot: '/shared/lab/runs' });
    expect(slurmSchedulerOptions({ kind: 'slurm', workdir: '/scratch/runs' }, '/home/me/normlab.db').checkpointRoot).toBe('/scratch/runs');
  });

  it('is part of a sweep spec but of no run: the runs and their config groups are the same with or without it', () => {
    const sweep = { name: 's', base: { model: 'cnn', dataset: 'synthetic', epochs: 1, batchSize: 32 }, grid: { lr: [0.1, 0.05] }, seeds: [1, 2] };
    const onSlurm = parseSweepSpec({ ...sweep, executor: { kind: 'slurm', gres: 'gpu:1', time: '04:00:00' } });
    expect(onSlurm.executor).toEqual({ kind: 'slurm', gres: 'gpu:1', time: '04:00:00' });
    const here = expandSweep(parseSweepSpec(sweep)).runs;
    const there = expandSweep(onSlurm).runs;
    expect(there).toEqual(here);
    expect(there.map(configGroupKey)).toEqual(here.map(configGroupKey));
    expect(() => parseSweepSpec({ ...sweep, executor: { kind: 'pbs' } })).toThrow(/executor/);
  });
});
