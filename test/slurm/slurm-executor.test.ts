import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_RECORD_FILE, JOB_SCRIPT_FILE, RUN_INPUT_FILE } from '../../src-main/slurm/job-script';
import { SlurmClient } from '../../src-main/slurm/slurm-client';
import { SlurmExecutor } from '../../src-main/slurm/slurm-executor';
import type { RunEnd, RunLaunch } from '../../src-main/scheduler/executor';
import type { WorkerEvent } from '../../src-worker/protocol';
import { parseRunSpec } from '../../src-worker/run-spec';
import { EventJournal } from '../../src-worker/train/journal';
import { waitFor } from '../main/scheduler/helpers';
import { fakeSlurm, scontrolLine, type FakeSlurm } from './fake-slurm';
import { tinyRunSpec } from './tiny-run';

const metrics = { train_loss: 1.5, train_acc: 0.4, test_loss: 1.6, test_acc: 0.35, test_acc5: 0.9, lr: 0.05, epoch_time_s: 1, images_per_s: 100, num_tensors: 10 };
const final = { test_acc: 0.5, test_acc5: 0.9, test_loss: 1.2, train_loss: 1.1, train_acc: 0.6, best_test_acc: 0.5, epochs_completed: 2 };

interface Setup {
  fake: FakeSlurm;
  executor: SlurmExecutor;
  runDir: string;
  launch: RunLaunch;
  events: WorkerEvent[];
  handles: string[];
  /** The worker's journal, written by the real journal writer, as a node would. */
  journal: EventJournal;
}

function setup(opts: { gres?: string; requeueGraceMs?: number } = {}): Setup {
  const fake = fakeSlurm();
  const runDir = join(mkdtempSync(join(tmpdir(), 'normlab-slurm-exec-')), 'run-1');
  mkdirSync(runDir);
  const spec = parseRunSpec(tinyRunSpec(1, runDir, 2));
  const executor = new SlurmExecutor({ client: new SlurmClient({ env: fake.env }), pollMs: 60_000, settleMs: 0, maxJobs: 2, gres: opts.gres, requeueGraceMs: opts.requeueGraceMs ?? 60_000 });
  const events: WorkerEvent[] = [];
  const handles: string[] = [];
  return {
    fake, executor, runDir, events, handles,
    launch: { runId: 1, spec, journalAck: { journal: null, seq: 0 } },
    journal: EventJournal.open(runDir, spec),
  };
}

function start(s: Setup) {
  return s.executor.start('slurm#1', s.launch, { onEvent: (e) => s.events.push(e), onHandle: (h) => s.handles.push(h) });
}

async function submitted(s: Setup): Promise<string> {
  return waitFor(() => s.handles[0], 10_000, 'sbatch to answer');
}

/** Polls until the run settles (each poll asks the fake squeue/scontrol once). */
async function settled(s: Setup, ended: Promise<RunEnd>): Promise<RunEnd> {
  let end: RunEnd | undefined;
  void ended.then((e) => (end = e));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (end) return end;
    if (Date.now() > deadline) throw new Error('timed out after 10000 ms waiting for the run to settle');
    await s.executor.pollNow();
    await new Promise((r) => setTimeout(r, 20));
  }
}

const doneEvents = (events: WorkerEvent[]) => events.filter((e) => e.event === 'done');

describe('SlurmExecutor on fake Slurm commands', () => {
  it('submits one job per run, with its files in the run folder, and reports the job id as the handle', async () => {
    const s = setup({ gres: 'gpu:1' });
    const run = start(s);
    expect(s.executor.freeUnits().map((u) => u.label)).toEqual(['slurm#2']);
    expect(await submitted(s)).toBe('100');
    const [args] = s.fake.calls('sbatch');
    expect(args).toEqual(expect.arrayContaining(['--job-name=normlab-run1', `--chdir=${s.runDir}`, '--gres=gpu:1', '--requeue', join(s.runDir, JOB_SCRIPT_FILE)]));
    expect(JSON.parse(readFileSync(join(s.runDir, RUN_INPUT_FILE), 'utf8'))).toMatchObject({ spec: { runId: 1, checkpointDir: s.runDir }, journalAck: { seq: 0 } });
    expect(JSON.parse(readFileSync(join(s.runDir, JOB_RECORD_FILE), 'utf8'))).toMatchObject({ runId: 1, jobId: '100' });
    expect(run.phase).toBe('pending');
  });

  it('adopts a job already queued for the run instead of submitting a second one', async () => {
    const s = setup();
    s.fake.setNamed([`555|${s.runDir}`]);
    start(s);
    expect(await submitted(s)).toBe('555');
    expect(s.fake.calls('sbatch')).toHaveLength(0);
  });

  it('shows the pending reason and the node in the run log, and forwards journal events in order', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.fake.setQueue([`${jobId}|PENDING|Priority||normlab-run1`]);
    await s.executor.pollNow();
    expect(s.executor.statuses()[0]).toMatchObject({ jobId, state: 'PENDING', reason: 'Priority' });
    s.fake.setQueue([`${jobId}|RUNNING|None|node07|normlab-run1`]);
    s.journal.append({ event: 'epoch', runId: 1, epoch: 1, metrics });
    await s.executor.pollNow();
    expect(run.phase).toBe('running');
    const logs = s.events.flatMap((e) => (e.event === 'log' ? [e.message] : []));
    expect(logs).toEqual([`submitted as Slurm job ${jobId}`, `Slurm job ${jobId} pending: Priority`, `Slurm job ${jobId} running on node node07`]);
    expect(s.events.filter((e) => e.event === 'epoch')).toMatchObject([{ epoch: 1, seq: 1 }]);
  });

  it('TIMEOUT without a checkpointed stop: killed (retried from the checkpoint), with the output file as the tail', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    writeFileSync(join(s.runDir, `slurm-${jobId}.out`), 'normlab: run 1 as Slurm job 100\nslurmstepd: error: *** JOB 100 CANCELLED DUE TO TIME LIMIT ***\n');
    s.fake.setQueue([]);
    s.fake.setJob(jobId, scontrolLine(jobId, 'TIMEOUT', { exitCode: '0:15' }));
    const end = await settled(s, run.ended);
    expect(end).toMatchObject({ sawDone: false, killed: true, summary: `Slurm job ${jobId} ended TIMEOUT (exit code 0:15) on node node01` });
    expect(end.stderrTail).toMatch(/DUE TO TIME LIMIT/);
  });

  it('a job that checkpointed on the SIGTERM before its limit ends interrupted, to be submitted again', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.journal.append({ event: 'epoch', runId: 1, epoch: 1, metrics });
    s.journal.append({ event: 'done', runId: 1, status: 'interrupted', metrics: final });
    s.fake.setQueue([`${jobId}|RUNNING|None|node01|normlab-run1`]);
    await s.executor.pollNow();
    // held while the job is still there: Slurm could yet requeue it
    expect(doneEvents(s.events)).toHaveLength(0);
    s.fake.setQueue([]);
    s.fake.setJob(jobId, scontrolLine(jobId, 'COMPLETED'));
    const end = await settled(s, run.ended);
    expect(end.sawDone).toBe(true);
    expect(doneEvents(s.events)).toMatchObject([{ status: 'interrupted', seq: 2 }]);
  });

  it('PREEMPTED and requeued by Slurm: the interrupted stop is dropped and the same job continues the run', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.journal.append({ event: 'done', runId: 1, status: 'interrupted', metrics: final });
    s.fake.setQueue([`${jobId}|PREEMPTED|None|node01|normlab-run1`]);
    await s.executor.pollNow();
    // the --requeue'd job is pending again: not an ending
    s.fake.setQueue([`${jobId}|PENDING|BeginTime||normlab-run1`]);
    await s.executor.pollNow();
    s.journal.append({ event: 'epoch', runId: 1, epoch: 2, metrics });
    s.journal.append({ event: 'done', runId: 1, status: 'finished', metrics: final });
    s.fake.setQueue([`${jobId}|RUNNING|None|node02|normlab-run1`]);
    const end = await settled(s, run.ended);
    expect(end.sawDone).toBe(true);
    expect(doneEvents(s.events)).toMatchObject([{ status: 'finished' }]);
    expect(s.events.some((e) => e.event === 'log' && /requeued job/.test(e.message))).toBe(true);
    expect(s.fake.calls('sbatch')).toHaveLength(1);
  });

  it('PREEMPTED or NODE_FAIL for good (no requeue): killed, so the run is retried from its checkpoint', async () => {
    for (const state of ['PREEMPTED', 'NODE_FAIL']) {
      const s = setup({ requeueGraceMs: 500 });
      const run = start(s);
      const jobId = await submitted(s);
      s.journal.append({ event: 'epoch', runId: 1, epoch: 1, metrics });
      s.fake.setQueue([]);
      s.fake.setJob(jobId, scontrolLine(jobId, state, { nodes: 'node09' }));
      // first watched for Slurm's own requeue, then given up on
      let early = false;
      void run.ended.then(() => (early = true));
      await s.executor.pollNow();
      await new Promise((r) => setTimeout(r, 0));
      expect(early).toBe(false);
      const end = await settled(s, run.ended);
      expect(end).toMatchObject({ sawDone: false, killed: true, summary: `Slurm job ${jobId} ended ${state} on node node09` });
      expect(s.events.filter((e) => e.event === 'epoch')).toHaveLength(1);
    }
  });

  it('OUT_OF_MEMORY: failed, not retried (the same request would run out again), with the output tail', async () => {
    const s = setup();
    s.fake.setAccounting(true);
    const run = start(s);
    const jobId = await submitted(s);
    writeFileSync(join(s.runDir, `slurm-${jobId}.out`), 'slurmstepd: error: Detected 1 oom_kill event in StepId=100.batch\n');
    s.fake.setQueue([]);
    s.fake.setSacct([`${jobId}|OUT_OF_MEMORY|0:125|node03|None`]);
    const end = await settled(s, run.ended);
    expect(end).toMatchObject({ sawDone: false, killed: false, summary: `Slurm job ${jobId} ended OUT_OF_MEMORY (exit code 0:125) on node node03` });
    expect(end.stderrTail).toMatch(/oom_kill/);
  });

  it('a job cancelled by hand ends the run cancelled, with the metrics it reached', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.journal.append({ event: 'epoch', runId: 1, epoch: 1, metrics });
    s.fake.setQueue([]);
    s.fake.setJob(jobId, scontrolLine(jobId, 'CANCELLED', { exitCode: '0:15' }));
    const end = await settled(s, run.ended);
    expect(end.sawDone).toBe(true);
    expect(doneEvents(s.events)).toMatchObject([{ status: 'cancelled', metrics: { epochs_completed: 1, test_acc: 0.35, best_test_acc: 0.35 } }]);
  });

  it('on a running job, cancel scancels the whole job and interrupt sends SIGTERM to the batch shell only', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.fake.setQueue([`${jobId}|RUNNING|None|node01|normlab-run1`]);
    await s.executor.pollNow();
    run.interrupt();
    run.cancel();
    await waitFor(() => s.fake.calls('scancel').length === 2, 5000, 'two scancel calls');
    expect(s.fake.calls('scancel')).toEqual(expect.arrayContaining([['--signal=TERM', '--batch', jobId], [jobId]]));
  });

  it('interrupting a job that has not started takes it out of the queue, and the run is not cancelled', async () => {
    const s = setup();
    const run = start(s);
    const jobId = await submitted(s);
    s.fake.setQueue([`${jobId}|PENDING|Priority||normlab-run1`]);
    await s.executor.pollNow();
    run.interrupt();
    await waitFor(() => s.fake.calls('scancel').length === 1, 5000, 'scancel');
    expect(s.fake.calls('scancel')).toEqual([[jobId]]);
    s.fake.setQueue([]);
    s.fake.setJob(jobId, scontrolLine(jobId, 'CANCELLED'));
    const end = await settled(s, run.ended);
    // no done: the policy records the run interrupted, as it asked
    expect(end).toMatchObject({ sawDone: false, killed: false });
    expect(doneEvents(s.events)).toEqual([]);
  });

  it('a job refused by sbatch settles at once with the reason', async () => {
    const s = setup();
    s.fake.failSbatch('sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification', 1);
    const run = start(s);
    const end = await run.ended;
    expect(end).toMatchObject({ sawDone: false, killed: false });
    expect(end.summary).toMatch(/could not submit run 1 to Slurm: sbatch failed \(exit 1\): .*Invalid generic resource/);
    expect(s.executor.freeUnits()).toHaveLength(2);
  });

  it('re-attaches by job id from the store acknowledgement, forwarding only what the store lacks', async () => {
    const s = setup();
    const e1 = s.journal.append({ event: 'epoch', runId: 1, epoch: 1, metrics });
    s.journal.append({ event: 'epoch', runId: 1, epoch: 2, metrics });
    s.journal.append({ event: 'done', runId: 1, status: 'finished', metrics: final });
    s.fake.setQueue([]);
    s.fake.setJob('321', scontrolLine('321', 'COMPLETED'));
    const run = s.executor.reattach('321', 'slurm#1', { ...s.launch, journalAck: { journal: e1.journal, seq: e1.seq } }, {
      onEvent: (e) => s.events.push(e), onHandle: (h) => s.handles.push(h),
    });
    expect(run).not.toBeNull();
    const end = await settled(s, run!.ended);
    expect(end.sawDone).toBe(true);
    expect(s.events.filter((e) => e.event !== 'log').map((e) => `${e.event}:${e.seq}`)).toEqual(['epoch:2', 'done:3']);
    // the run's log says who watches the job now
    expect(s.events.filter((e) => e.event === 'log').map((e) => e.event === 'log' && e.message)).toEqual(['a restarted manager re-attached to its Slurm job']);
    expect(s.fake.calls('sbatch')).toHaveLength(0);
    expect(existsSync(join(s.runDir, RUN_INPUT_FILE))).toBe(false);
  });
});
