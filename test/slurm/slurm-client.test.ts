import { describe, expect, it } from 'vitest';
import { describeEnding, endedFromOutside, jobState, normalizeState } from '../../src-main/slurm/job-states';
import { SlurmClient, SlurmCommandError, sbatchArgs } from '../../src-main/slurm/slurm-client';
import { accountingEnabled, parseSacct, parseSbatch, parseScontrolJobs, parseSqueue, SlurmOutputError } from '../../src-main/slurm/slurm-output';
import { fakeSlurm, scontrolLine } from './fake-slurm';

describe('Slurm job states', () => {
  it('reads long, short and annotated state words', () => {
    expect(normalizeState('CANCELLED by 1000')).toBe('CANCELLED');
    expect(normalizeState('cd')).toBe('COMPLETED');
    expect(normalizeState('OOM')).toBe('OUT_OF_MEMORY');
    expect(normalizeState('COMPLETING+')).toBe('COMPLETING');
  });

  it('sorts states into pending, running and ended, with how it ended', () => {
    expect(jobState('1', 'PENDING', { reason: 'Resources' })).toMatchObject({ phase: 'pending', ending: null, reason: 'Resources' });
    expect(jobState('1', 'REQUEUED')).toMatchObject({ phase: 'pending' });
    expect(jobState('1', 'RUNNING', { nodes: 'gpu03' })).toMatchObject({ phase: 'running', nodes: 'gpu03', reason: null });
    expect(jobState('1', 'PREEMPTED')).toMatchObject({ phase: 'ended', ending: 'preempted' });
    expect(jobState('1', 'NODE_FAIL')).toMatchObject({ phase: 'ended', ending: 'node_fail' });
    expect(jobState('1', 'OUT_OF_MEMORY')).toMatchObject({ phase: 'ended', ending: 'out_of_memory' });
    expect(jobState('1', 'TIMEOUT')).toMatchObject({ phase: 'ended', ending: 'timeout' });
    // a state word this code does not know is never taken for an ending
    expect(jobState('1', 'SOME_NEW_STATE')).toMatchObject({ phase: 'pending', ending: null });
  });

  it('retries what was stopped from outside, not a job that ran out of memory or crashed', () => {
    expect(['timeout', 'node_fail', 'preempted', 'boot_fail'].every((e) => endedFromOutside(e as never))).toBe(true);
    expect(['out_of_memory', 'failed', 'completed', 'cancelled'].some((e) => endedFromOutside(e as never))).toBe(false);
  });

  it('describes an ending with its exit code and node', () => {
    expect(describeEnding(jobState('7', 'FAILED', { exitCode: '1:0', nodes: 'gpu03' }))).toBe('Slurm job 7 ended FAILED (exit code 1:0) on node gpu03');
  });
});

describe('Slurm output parsers', () => {
  it('takes the job id from sbatch --parsable, with or without a cluster name', () => {
    expect(parseSbatch('123\n')).toBe('123');
    expect(parseSbatch('456;cluster-a\n')).toBe('456');
    expect(() => parseSbatch('Submitted batch job 1\n')).toThrow(SlurmOutputError);
  });

  it('parses squeue lines with pending reasons and node names', () => {
    const states = parseSqueue('12|PENDING|Priority||normlab-run1\n13|RUNNING|None|gpu03|normlab-run2\n14|PENDING|QOSMaxJobsPerUserLimit||x\n');
    expect(states.get('12')).toMatchObject({ phase: 'pending', reason: 'Priority', nodes: null });
    expect(states.get('13')).toMatchObject({ phase: 'running', reason: null, nodes: 'gpu03' });
    expect(states.get('14')?.reason).toBe('QOSMaxJobsPerUserLimit');
    expect(() => parseSqueue('garbage\n')).toThrow(/squeue line/);
  });

  it('parses sacct, keeping the last allocation row of a requeued job', () => {
    const states = parseSacct('20|NODE_FAIL|0:0|node01|None\n20|COMPLETED|0:0|node02|None\n21|CANCELLED by 0|0:15|node01|None\n');
    expect(states.get('20')).toMatchObject({ state: 'COMPLETED', nodes: 'node02' });
    expect(states.get('21')).toMatchObject({ ending: 'cancelled', exitCode: '0:15' });
  });

  it('parses scontrol -o show job lines as Slurm 22.05 prints them', () => {
    const states = parseScontrolJobs(`${scontrolLine('30', 'OUT_OF_MEMORY', { exitCode: '0:125', nodes: 'big01' })}\n`);
    expect(states.get('30')).toMatchObject({ ending: 'out_of_memory', exitCode: '0:125', nodes: 'big01' });
  });

  it('tells from scontrol show config whether accounting exists', () => {
    expect(accountingEnabled('AccountingStorageType   = accounting_storage/none\n')).toBe(false);
    expect(accountingEnabled('AccountingStorageType   = accounting_storage/slurmdbd\n')).toBe(true);
  });
});

describe('sbatch command line', () => {
  it('asks for requeue, a SIGTERM to the batch shell before the limit, and the run options', () => {
    const args = sbatchArgs({
      jobName: 'normlab-run3', scriptPath: '/shared/run-3/slurm-job.sh', workdir: '/shared/run-3', output: '/shared/run-3/slurm-%j.out',
      partition: 'gpu', gres: 'gpu:1', time: '04:00:00', account: 'lab', qos: 'normal', extra: ['--constraint=a100'], signalBeforeLimitS: 300,
    });
    expect(args).toEqual([
      '--parsable', '--job-name=normlab-run3', '--chdir=/shared/run-3', '--output=/shared/run-3/slurm-%j.out', '--open-mode=append',
      '--requeue', '--signal=B:TERM@300', '--partition=gpu', '--gres=gpu:1', '--time=04:00:00', '--account=lab', '--qos=normal',
      '--constraint=a100', '/shared/run-3/slurm-job.sh',
    ]);
  });
});

describe('SlurmClient on fake Slurm commands', () => {
  const request = { jobName: 'normlab-run1', scriptPath: '/x/slurm-job.sh', workdir: '/x', output: '/x/slurm-%j.out' };

  it('submits and returns the job id', async () => {
    const fake = fakeSlurm();
    const client = new SlurmClient({ env: fake.env });
    expect(await client.submit({ ...request, gres: 'gpu:1' })).toBe('100');
    expect(fake.calls('sbatch')[0]).toContain('--gres=gpu:1');
  });

  it('retries sbatch while the controller is busy, and gives up on a refusal at once', async () => {
    const fake = fakeSlurm();
    const client = new SlurmClient({ env: fake.env, retryDelayMs: 10 });
    fake.failSbatch('sbatch: error: Batch job submission failed: Socket timed out on send/recv operation', 2);
    expect(await client.submit(request)).toBe('100');
    expect(fake.calls('sbatch')).toHaveLength(3);
    fake.failSbatch('sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified', 5);
    await expect(client.submit(request)).rejects.toThrow(/sbatch failed \(exit 1\): .*Invalid account/);
    expect(fake.calls('sbatch')).toHaveLength(4);
  });

  it('polls all jobs with one squeue, then scontrol for the ones it no longer lists (no accounting)', async () => {
    const fake = fakeSlurm();
    fake.setQueue(['1|RUNNING|None|node01|normlab-run1', '2|PENDING|Resources||normlab-run2']);
    fake.setJob('3', scontrolLine('3', 'PREEMPTED', { nodes: 'node02' }));
    fake.setJob('4', scontrolLine('4', 'NODE_FAIL', { nodes: 'node07', exitCode: '0:0' }));
    const client = new SlurmClient({ env: fake.env });
    const states = await client.poll(['1', '2', '3', '4', '5']);
    expect(fake.calls('squeue')).toHaveLength(1);
    expect(fake.calls('squeue')[0]).toEqual(['-h', '-j', '1,2,3,4,5', '-o', '%i|%T|%r|%N|%j']);
    expect(states.get('1')).toMatchObject({ phase: 'running', nodes: 'node01' });
    expect(states.get('2')).toMatchObject({ phase: 'pending', reason: 'Resources' });
    expect(states.get('3')).toMatchObject({ ending: 'preempted', nodes: 'node02' });
    expect(states.get('4')).toMatchObject({ ending: 'node_fail', nodes: 'node07' });
    expect(states.get('5')).toMatchObject({ ending: 'gone' });
    expect(fake.calls('sacct')).toHaveLength(0);
    // the answer is kept for the rest of the poll
    expect(client.cached('2')?.reason).toBe('Resources');
  });

  it('asks sacct, once for all missing jobs, where accounting exists', async () => {
    const fake = fakeSlurm();
    fake.setAccounting(true);
    fake.setQueue([]);
    fake.setSacct(['8|OUT_OF_MEMORY|0:125|node03|None', '9|TIMEOUT|0:0|node04|TimeLimit']);
    const client = new SlurmClient({ env: fake.env });
    const states = await client.poll(['8', '9']);
    expect(states.get('8')).toMatchObject({ ending: 'out_of_memory', exitCode: '0:125' });
    expect(states.get('9')).toMatchObject({ ending: 'timeout' });
    expect(fake.calls('sacct')).toHaveLength(1);
    expect(fake.calls('scontrol').filter((c) => c[0] === '-o')).toHaveLength(0);
  });

  it('reads squeue refusing a lone unknown job id as "not in the queue"', async () => {
    const fake = fakeSlurm();
    fake.setQueue([]);
    const states = await new SlurmClient({ env: fake.env }).poll(['77']);
    expect(states.get('77')?.ending).toBe('gone');
  });

  it('names a missing command clearly', async () => {
    const client = new SlurmClient({ env: { ...process.env, PATH: '/nonexistent' } });
    const err = await client.submit(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlurmCommandError);
    expect((err as Error).message).toBe('sbatch not found on PATH: is this a Slurm submit host?');
  });

  it('scancel with a signal to the batch shell only', async () => {
    const fake = fakeSlurm();
    await new SlurmClient({ env: fake.env }).cancel('12', { signal: 'TERM', batchOnly: true });
    expect(fake.calls('scancel')).toEqual([['--signal=TERM', '--batch', '12']]);
  });
});
