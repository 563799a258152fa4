import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openRuntime, type NormLabRuntime } from '../../../src-main/runtime';
import { runSweepToEnd, type SweepReporter } from '../../../src-main/cli/sweep-runner';
import type { WorkerEvent } from '../../../src-worker/protocol';
import { writeFakeNvidiaSmi } from './fake-nvidia-smi';
import { tempDir, tinySweep, waitFor } from './helpers';

const quiet: SweepReporter = { submitted: () => {}, event: () => {}, runEnded: () => {} };
const runtimes: NormLabRuntime[] = [];

async function open(dir: string, devices: Parameters<typeof openRuntime>[0]['devices'], extra: { maxAutoRetries?: number } = {}) {
  const runtime = await openRuntime({ dbFile: join(dir, 'normlab.db'), startScheduler: false, devices, log: () => {}, ...extra });
  runtimes.push(runtime);
  return runtime;
}

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close({ interruptRunning: true });
});

describe('scheduler with real worker processes', () => {
  it('expands a sweep and runs every run to the end, with metrics and aggregates in the store', async () => {
    const runtime = await open(tempDir(), { cpuSlots: 2, nvidiaSmi: '/nonexistent' });
    const events: WorkerEvent[] = [];
    const outcome = await runSweepToEnd(runtime, tinySweep('complete', { models: ['cnn', 'kn_cnn'], seeds: [1, 2] }), {
      ...quiet,
      event: (_id, e) => events.push(e),
    });
    expect(outcome.runs).toHaveLength(4);
    expect(outcome.allFinished).toBe(true);
    expect(outcome.aggregates.map((a) => [a.model, a.n])).toEqual(
      expect.arrayContaining([['cnn', 2], ['kn_cnn', 2]]),
    );
    for (const run of outcome.runs) {
      expect(run.finalTestAcc).toBeGreaterThan(0);
      const metrics = runtime.store.getMetrics(run.id);
      expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['train_loss', 'test_acc', 'lr', 'images_per_s']));
      expect(run.device).toMatch(/^cpu:[01]$/);
    }
    expect(events.filter((e) => e.event === 'done')).toHaveLength(4);
    // both slots were used: two runs overlapped in time
    const byStart = [...outcome.runs].sort((a, b) => a.startedAt! - b.startedAt!);
    expect(byStart[1].startedAt!).toBeLessThan(byStart[0].finishedAt!);

    // re-submitting the same spec queues nothing new
    const again = await runtime.service.submitSweep(tinySweep('complete', { models: ['cnn', 'kn_cnn'], seeds: [1, 2] }));
    expect(again.runs).toMatchObject({ total: 4, created: 0, existing: 4 });
  });

  it('places concurrent runs on distinct GPUs reported by nvidia-smi, one CUDA_VISIBLE_DEVICES each', async () => {
    const smi = writeFakeNvidiaSmi(3);
    const runtime = await open(tempDir(), { nvidiaSmi: smi.path });
    expect(runtime.devices.map((d) => d.id)).toEqual(['gpu:0', 'gpu:1', 'gpu:2']);
    const visible = new Map<number, string | undefined>();
    const outcome = await runSweepToEnd(runtime, tinySweep('gpus', { seeds: [1, 2, 3] }), {
      ...quiet,
      event: (id, e) => {
        if (e.event === 'started') visible.set(id, e.cudaVisibleDevices);
      },
    });
    expect(outcome.allFinished).toBe(true);
    const devices = outcome.runs.map((r) => r.device).sort((a, b) => String(a).localeCompare(String(b)));
    expect(devices).toEqual(['gpu:0', 'gpu:1', 'gpu:2']);
    for (const run of outcome.runs) expect(visible.get(run.id)).toBe(run.device!.slice('gpu:'.length));
  });

  it('retries a killed worker automatically from its checkpoint, then records it failed; a manual retry finishes it', async () => {
    const runtime = await open(tempDir(), { cpuSlots: 1, nvidiaSmi: '/nonexistent' }, { maxAutoRetries: 1 });
    const sweep = tinySweep('dies', { epochs: 3 });
    const done = runSweepToEnd(runtime, sweep, quiet);
    const pid = await waitFor(() => runtime.scheduler.slotsView()[0]?.pid, 20_000, 'a worker to start');
    const runId = runtime.scheduler.slotsView()[0].runId!;
    await waitFor(() => runtime.store.getMetrics(runId).test_acc?.length, 60_000, 'the first epoch');
    process.kill(pid, 'SIGKILL');
    // the OOM killer's victim needs no click: the run is back on a new worker
    const second = await waitFor(() => {
      const view = runtime.scheduler.slotsView()[0];
      return view?.runId === runId && view.pid !== pid ? view.pid : null;
    }, 30_000, 'the automatic retry');
    expect(runtime.store.getRun(runId)).toMatchObject({ autoRetries: 1, attempts: 2 });
    process.kill(second, 'SIGKILL');
    const outcome = await done;
    const failed = outcome.runs[0];
    expect(failed.status).toBe('failed');
    expect(failed.errorReason).toMatch(/killed by SIGKILL/);
    expect(runtime.store.getLogs(runId).map((l) => l.message)).toContainEqual(expect.stringMatching(/retrying automatically \(1 of 1\) after: worker process killed by SIGKILL/));
    expect(runtime.store.getMetrics(runId).test_acc.length).toBeGreaterThanOrEqual(1);

    await runtime.service.retry(runId);
    await waitFor(() => ['finished', 'failed'].includes(runtime.store.getRun(runId)!.status) && runtime.scheduler.isIdle(), 90_000, 'the retried run');
    const retried = runtime.store.getRun(runId)!;
    expect(retried.status).toBe('finished');
    expect(retried.epochsCompleted).toBe(3);
    const epochs = runtime.store.getMetrics(runId).test_acc.map((p) => p.step);
    expect(new Set(epochs)).toEqual(new Set([1, 2, 3]));
  });

  it('hands the next run to a worker started ahead while the slot was busy, and drops spares when the queue is empty', async () => {
    const runtime = await open(tempDir(), { cpuSlots: 1, nvidiaSmi: '/nonexistent' });
    const pids = new Map<number, number>();
    runtime.scheduler.on('runStarted', (id) => pids.set(id, runtime.scheduler.slotsView()[0].pid!));
    const done = runSweepToEnd(runtime, tinySweep('spares', { seeds: [1, 2] }), quiet);
    const spare = await waitFor(() => runtime.scheduler.slotsView()[0]?.sparePid, 20_000, 'a spare worker');
    const outcome = await done;
    expect(outcome.allFinished).toBe(true);
    const [first, second] = [...outcome.runs].sort((a, b) => a.startedAt! - b.startedAt!);
    expect(pids.get(second.id)).toBe(spare);
    expect(pids.get(first.id)).not.toBe(spare);
    expect(runtime.scheduler.slotsView()[0].sparePid).toBeNull();
  });

  it('cancels a running run with a checkpoint, and a cancelled queued run never starts', async () => {
    const runtime = await open(tempDir(), { cpuSlots: 1, nvidiaSmi: '/nonexistent' });
    const done = runSweepToEnd(runtime, tinySweep('cancel', { epochs: 5, seeds: [1, 2] }), quiet);
    const runId = await waitFor(() => runtime.scheduler.slotsView()[0]?.runId, 20_000, 'a worker to start');
    const queued = runtime.store.listRuns({ status: 'queued' })[0];
    await runtime.service.cancel(queued.id);
    await waitFor(() => runtime.store.getMetrics(runId).train_loss?.length, 60_000, 'the first epoch');
    await runtime.service.cancel(runId);
    const outcome = await done;
    const byId = new Map(outcome.runs.map((r) => [r.id, r]));
    expect(byId.get(runId)!.status).toBe('cancelled');
    expect(byId.get(queued.id)!.status).toBe('cancelled');
    expect(byId.get(queued.id)!.startedAt).toBeNull();
    expect(runtime.store.getCheckpoints(runId).map((c) => c.reason)).toContain('cancel');
  });
});
