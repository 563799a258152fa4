import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { WorkerEvent } from '../../../src-worker/protocol';
import { runSpecSchema } from '../../../src-worker/run-spec';
import type { Device } from '../../../src-main/scheduler/devices';
import type { RunLaunch } from '../../../src-main/scheduler/executor';
import { LocalExecutor, localRunEnd } from '../../../src-main/scheduler/local-executor';

const ECHO_WORKER = join(import.meta.dirname, 'echo-worker.ts');
const gpu = (index: number, slots: number): Device => ({ id: `gpu:${index}`, kind: 'gpu', index, name: 'NVIDIA A40', slots });
const launch = (runId: number, seed = 1): RunLaunch => ({
  runId,
  spec: runSpecSchema.parse({ runId, model: 'cnn', dataset: 'synthetic', epochs: 1, batchSize: 32, lr: 0.1, seed }),
  journalAck: { journal: null, seq: 0 },
});

describe('local executor', () => {
  it('names one unit per device slot, in device order', () => {
    const executor = new LocalExecutor({ devices: [gpu(0, 2), gpu(1, 1), { id: 'cpu', kind: 'cpu', name: 'CPU', slots: 2 }] });
    expect(executor.freeUnits().map((u) => u.label)).toEqual(['gpu:0#0', 'gpu:0#1', 'gpu:1', 'cpu:0', 'cpu:1']);
    expect(executor.units().every((u) => u.runId === null && u.device !== null)).toBe(true);
    expect(executor.reattach()).toBeNull();
    expect(() => new LocalExecutor({ devices: [] })).toThrow(/no device slots/);
    expect(() => executor.start('gpu:7', launch(1), { onEvent: () => {}, onHandle: () => {} })).toThrow(
      'local executor: no slot gpu:7 (slots: gpu:0#0, gpu:0#1, gpu:1, cpu:0, cpu:1)',
    );
  });

  it('says a signal is a kill from outside and an exit code is not', () => {
    expect(localRunEnd({ code: null, signal: 'SIGKILL', stderrTail: '', sawDone: false })).toMatchObject({ killed: true, summary: 'worker process killed by SIGKILL' });
    expect(localRunEnd({ code: 1, signal: null, stderrTail: '', sawDone: false })).toMatchObject({ killed: false, summary: 'worker process exited with code 1' });
  });

  it('runs a worker process on its slot, hands the next run to the spare it started ahead, and frees the slot at the end', async () => {
    const executor = new LocalExecutor({ devices: [gpu(3, 1)], workerEntry: ECHO_WORKER });
    const events: WorkerEvent[] = [];
    const observer = { onEvent: (e: WorkerEvent) => events.push(e), onHandle: () => {} };
    const first = executor.start('gpu:3', launch(1, 99), observer);
    expect(executor.freeUnits()).toEqual([]);
    expect(() => executor.start('gpu:3', launch(2), observer)).toThrow('local executor: slot gpu:3 already runs run 1');
    executor.anticipate(true);
    const spare = executor.slotsView()[0]?.sparePid;
    expect(spare).toEqual(expect.any(Number));
    expect(spare).not.toBe(first.pid);

    first.cancel();
    expect(await first.ended).toMatchObject({ sawDone: true, killed: false });
    expect(executor.running()).toEqual([]);
    const second = executor.start('gpu:3', launch(2), observer);
    expect(second.pid).toBe(spare);
    await second.ended;
    expect(events.filter((e) => e.event === 'log').map((e) => e.event === 'log' && e.message)).toEqual([
      'run 1 sees CUDA_VISIBLE_DEVICES=3',
      'run 2 sees CUDA_VISIBLE_DEVICES=3',
    ]);
    expect(events.filter((e) => e.event === 'done').map((e) => e.event === 'done' && e.status)).toEqual(['cancelled', 'finished']);
    expect(executor.units()).toEqual([expect.objectContaining({ label: 'gpu:3', runId: null })]);
  });

  it('reports a killed worker as killed from outside, and lets its spare go when no run waits', async () => {
    const executor = new LocalExecutor({ devices: [{ id: 'cpu', kind: 'cpu', name: 'CPU', slots: 1 }], workerEntry: ECHO_WORKER });
    const run = executor.start('cpu:0', launch(5, 99), { onEvent: () => {}, onHandle: () => {} });
    executor.anticipate(true);
    expect(executor.slotsView()[0]?.sparePid).toEqual(expect.any(Number));
    executor.anticipate(false);
    expect(executor.slotsView()[0]?.sparePid).toBeNull();
    run.kill();
    expect(await run.ended).toMatchObject({ sawDone: false, signal: 'SIGKILL', killed: true, summary: 'worker process killed by SIGKILL' });
    expect(executor.freeUnits().map((u) => u.label)).toEqual(['cpu:0']);
  });
});
