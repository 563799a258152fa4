import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsNodeExecArgv } from '../../src-main/node-runtime';
import { createSlurmScheduler } from '../../src-main/slurm/slurm-scheduler';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import type { WorkerEvent } from '../../src-worker/protocol';
import { parseRunSpec } from '../../src-worker/run-spec';
import { waitFor } from '../main/scheduler/helpers';
import { requireCluster } from './require-cluster';
import { tinyRunSpec } from './tiny-run';

/**
 * Against the real one-node cluster: real sbatch, squeue, scontrol and scancel, real batch jobs training tiny runs
 * on the node, the journal tailed over the file system.
 */

interface Bench {
  dir: string;
  store: ExperimentStore;
  runIds: number[];
}

function bench(prefix: string, runs: number, epochs: number): Bench {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = ExperimentStore.open(join(dir, 'normlab.db'));
  const { sweep } = store.upsertSweep({ name: prefix, spec: {} });
  const specs = Array.from({ length: runs }, (_, i) => {
    const { runId: _r, checkpointDir: _c, resume: _s, ...spec } = tinyRunSpec(1, dir, epochs);
    return parseRunSpec({ ...spec, seed: i + 1 });
  });
  store.addRuns(sweep.id, specs);
  return { dir, store, runIds: store.listRuns({ sweepId: sweep.id }).map((r) => r.id) };
}

function epochsInStore(store: ExperimentStore, runId: number): number[] {
  return (store.getMetrics(runId, 'test_acc').test_acc ?? []).map((p) => p.step);
}

/** Slurm output files in a run folder: one per job submitted for it. */
function jobOutputs(runDir: string): string[] {
  return readdirSync(runDir).filter((f) => /^slurm-\d+\.out$/.test(f));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('Slurm executor on a real one-node cluster', () => {
  beforeAll(requireCluster);
  const opened: ExperimentStore[] = [];
  afterAll(() => {
    for (const s of opened) s.close();
  });

  it('trains 4 tiny runs as 4 jobs, every epoch in the store, the node as where they ran', async () => {
    const b = bench('normlab-slurm-e2e-', 4, 2);
    opened.push(b.store);
    const submittedAt = new Map<number, number>();
    const startLatency: number[] = [];
    const eventLatency: number[] = [];
    const runningLatency: number[] = [];
    const { policy } = createSlurmScheduler(b.store, {
      checkpointRoot: b.dir, pollMs: 250, gres: 'gpu:1', time: '10', settleMs: 1000, maxJobs: 4,
      onSubmitted: (runId) => submittedAt.set(runId, Date.now()),
    });
    policy.on('event', (runId: number, event: WorkerEvent & { at?: number }) => {
      if (event.event === 'log' && / running on node /.test(event.message)) runningLatency.push(Date.now() - (submittedAt.get(runId) ?? NaN));
      if (event.at === undefined) return;
      eventLatency.push(Date.now() - event.at);
      if (event.event === 'started') startLatency.push(event.at - (submittedAt.get(runId) ?? NaN));
    });
    policy.start();
    await waitFor(() => b.runIds.every((id) => b.store.getRun(id)?.status === 'finished') || b.runIds.some((id) => b.store.getRun(id)?.status === 'failed'), 150_000, 'all 4 runs to finish');
    await policy.stop();
    for (const id of b.runIds) {
      const run = b.store.getRun(id);
      expect(run?.status, `run ${id}: ${run?.errorReason}`).toBe('finished');
      expect(epochsInStore(b.store, id)).toEqual([1, 2]);
      expect(jobOutputs(run?.checkpointDir ?? '')).toHaveLength(1);
      expect(b.store.getLogs(id).map((l) => l.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^Slurm job \d+ running on node localhost$/)]));
    }
    console.log(
      `[slurm e2e] submission→RUNNING in squeue median ${median(runningLatency)} ms (${runningLatency.join(', ')}); ` +
      `submission→worker's started event median ${median(startLatency)} ms (${startLatency.join(', ')}); ` +
      `journal write→store median ${median(eventLatency)} ms, max ${Math.max(...eventLatency)} ms over ${eventLatency.length} events`,
    );
  });

  it('scancel of a running job by hand ends its run cancelled, with the epochs it reached', async () => {
    const b = bench('normlab-slurm-cancel-', 1, 60);
    opened.push(b.store);
    let jobId = '';
    const { policy } = createSlurmScheduler(b.store, {
      checkpointRoot: b.dir, pollMs: 250, gres: 'gpu:1', time: '10', settleMs: 1000, onSubmitted: (_r, j) => (jobId = j),
    });
    policy.start();
    const [runId] = b.runIds as [number];
    await waitFor(() => epochsInStore(b.store, runId).length > 0, 90_000, 'the first epoch in the store');
    expect(spawnSync('scancel', [jobId]).status).toBe(0);
    await waitFor(() => b.store.getRun(runId)?.status === 'cancelled', 60_000, 'the run to end cancelled');
    await policy.stop();
    const run = b.store.getRun(runId);
    expect(run?.epochsCompleted).toBeGreaterThanOrEqual(1);
    expect(run?.epochsCompleted).toBeLessThan(60);
  });

  it('a drained node: the run shows PENDING with Slurm\'s reason, then runs once the node is resumed', async () => {
    const b = bench('normlab-slurm-drain-', 1, 1);
    opened.push(b.store);
    const scontrol = (...args: string[]) => expect(spawnSync('scontrol', args, { encoding: 'utf8' }).status).toBe(0);
    scontrol('update', 'nodename=localhost', 'state=drain', 'reason=normlab-test');
    try {
      const { policy, executor } = createSlurmScheduler(b.store, { checkpointRoot: b.dir, pollMs: 250, gres: 'gpu:1', time: '10', settleMs: 1000 });
      policy.start();
      const [runId] = b.runIds as [number];
      const pendingLog = await waitFor(() => b.store.getLogs(runId).find((l) => / pending: /.test(l.message)), 30_000, 'the pending reason in the run log');
      expect(executor.statuses()).toMatchObject([{ runId, state: 'PENDING', reason: expect.stringMatching(/ReqNodeNotAvail|Resources|Nodes/) }]);
      expect(b.store.getRun(runId)?.status).toBe('running');
      console.log(`[slurm drain] ${pendingLog.message}`);
      scontrol('update', 'nodename=localhost', 'state=resume');
      await waitFor(() => b.store.getRun(runId)?.status === 'finished', 90_000, 'the run to finish once the node is back');
      await policy.stop();
      expect(epochsInStore(b.store, runId)).toEqual([1]);
    } finally {
      spawnSync('scontrol', ['update', 'nodename=localhost', 'state=resume']);
    }
  });

  it('the SIGTERM before a time limit: checkpoint, resubmit, finished with the metrics of an uninterrupted run', async () => {
    // what --signal=B:TERM@… does near the limit, sent by hand so the test need not wait out a minute-long limit
    const interrupted = bench('normlab-slurm-limit-', 1, 6);
    const straight = bench('normlab-slurm-straight-', 1, 6);
    opened.push(interrupted.store, straight.store);
    const jobs: string[] = [];
    const a = createSlurmScheduler(interrupted.store, {
      checkpointRoot: interrupted.dir, pollMs: 250, gres: 'gpu:1', time: '10', settleMs: 1000, onSubmitted: (_r, j) => jobs.push(j),
    });
    const b = createSlurmScheduler(straight.store, { checkpointRoot: straight.dir, pollMs: 250, gres: 'gpu:1', time: '10', settleMs: 1000 });
    a.policy.start();
    b.policy.start();
    const [runA] = interrupted.runIds as [number];
    const [runB] = straight.runIds as [number];
    await waitFor(() => epochsInStore(interrupted.store, runA).length > 0, 90_000, 'the first epoch of the run to interrupt');
    expect(spawnSync('scancel', ['--signal=TERM', '--batch', jobs[0] ?? '']).status).toBe(0);
    const finished = (s: ExperimentStore, id: number) => s.getRun(id)?.status === 'finished';
    await waitFor(() => finished(interrupted.store, runA) && finished(straight.store, runB), 120_000, 'both runs to finish');
    await Promise.all([a.policy.stop(), b.policy.stop()]);
    expect(jobs).toHaveLength(2);
    expect(jobOutputs(interrupted.store.getRun(runA)?.checkpointDir ?? '')).toHaveLength(2);
    expect(epochsInStore(interrupted.store, runA)).toEqual([1, 2, 3, 4, 5, 6]);
    const curve = (s: ExperimentStore, id: number) => (s.getMetrics(id, 'test_acc').test_acc ?? []).map((p) => p.value);
    expect(curve(interrupted.store, runA)).toEqual(curve(straight.store, runB));
    expect(interrupted.store.getRun(runA)?.finalTestAcc).toBe(straight.store.getRun(runB)?.finalTestAcc);
  });

  it('a job that dies before its worker journals anything (a bad module load) fails with its output file\'s tail', async () => {
    const b = bench('normlab-slurm-setup-', 1, 1);
    opened.push(b.store);
    const { policy } = createSlurmScheduler(b.store, {
      checkpointRoot: b.dir, pollMs: 250, time: '10', settleMs: 500, setup: ['echo "module: nodejs/99: not found" >&2', 'exit 3'],
    });
    policy.start();
    const [runId] = b.runIds as [number];
    await waitFor(() => b.store.getRun(runId)?.status === 'failed', 30_000, 'the run to fail');
    await policy.stop();
    const run = b.store.getRun(runId);
    expect(run?.errorReason).toMatch(/^Slurm job \d+ ended FAILED \(exit code 3:0\) on node localhost before finishing$/);
    expect(run?.stderrTail).toMatch(/module: nodejs\/99: not found/);
  });

  it('kill -9 of the manager, then a restart: it re-attaches to the jobs, submits nothing twice, all finish', async () => {
    const b = bench('normlab-slurm-kill-', 2, 6);
    b.store.close();
    const manager = () => {
      const child = spawn(process.execPath, [...tsNodeExecArgv(), join(__dirname, 'manager.ts'), '--db', join(b.dir, 'normlab.db'), '--root', b.dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      return { child, exited, lines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>), out: () => out };
    };
    const first = manager();
    await waitFor(() => first.lines().filter((l) => l.event === 'epoch').length >= 1 && first.lines().filter((l) => l.event === 'submitted').length === 2, 90_000, 'both jobs submitted and an epoch in');
    const jobIds = first.lines().filter((l) => l.event === 'submitted').map((l) => String(l.jobId));
    first.child.kill('SIGKILL');
    await first.exited;
    // the jobs outlive their manager
    const queued = spawnSync('squeue', ['-h', '-j', jobIds.join(','), '-o', '%i'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    expect(queued.length).toBeGreaterThan(0);

    const second = manager();
    expect(await second.exited, second.out()).toBe(0);
    expect(second.lines().filter((l) => l.event === 'submitted')).toEqual([]);
    const store = ExperimentStore.open(join(b.dir, 'normlab.db'));
    opened.push(store);
    for (const id of b.runIds) {
      const run = store.getRun(id);
      expect(run?.status, `run ${id}: ${run?.errorReason}`).toBe('finished');
      expect(epochsInStore(store, id)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(jobOutputs(run?.checkpointDir ?? '')).toHaveLength(1);
    }
    const reattached = b.runIds.filter((id) => store.getLogs(id).some((l) => l.message === 'a restarted manager re-attached to its Slurm job'));
    expect(reattached.length).toBe(queued.length);
  });
});
