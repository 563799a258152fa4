import { fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tsNodeExecArgv } from '../../../src-main/node-runtime';
import type { ParentMessage, WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';

const WORKER = join(import.meta.dirname, '../../../src-worker/main.ts');
const scratch = mkdtempSync(join(tmpdir(), 'normlab-worker-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Small enough for seconds per epoch on one core, long enough (many epochs) to be cancelled mid-run.
const longRun: RunSpecInput = {
  model: 'kn_cnn', dataset: 'synthetic', epochs: 50, batchSize: 16, lr: 0.05, backend: 'wasm',
  syntheticTrainSize: 256, syntheticTestSize: 64, progressEvery: 2, statsEvery: 0,
};

interface Exit {
  code: number | null;
  events: WorkerEvent[];
  stderr: string;
}

/** Standalone worker: spec on argv, JSON lines on stdout; `onEvent` may signal the process. */
function runStandalone(args: string[], onEvent?: (e: WorkerEvent, child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...tsNodeExecArgv(), WORKER, ...args], { env: { ...process.env, XDG_CACHE_HOME: join(scratch, 'cache') } });
    const events: WorkerEvent[] = [];
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const e = JSON.parse(line) as WorkerEvent;
        events.push(e);
        onEvent?.(e, child);
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, events, stderr }));
  });
}

describe('worker process: invalid requests', () => {
  it('an unknown model is an error event naming the valid models, exit code 2, no stack', async () => {
    const r = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, model: 'resnet7' })]);
    expect(r.code).toBe(2);
    const error = r.events.find((e) => e.event === 'error');
    expect(error).toMatchObject({ event: 'error', reason: expect.stringMatching(/unknown model "resnet7"; valid models: .*knresnet18.*resnet18_bn/) });
    expect(error && 'detail' in error ? error.detail : undefined).toBeUndefined();
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('bad numbers name the field', async () => {
    const r = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, lr: -1, batchSize: 2.5 })]);
    expect(r.code).toBe(2);
    const reason = (r.events.find((e) => e.event === 'error') as { reason: string }).reason;
    expect(reason).toMatch(/lr: /);
    expect(reason).toMatch(/batchSize: /);
  });

  it('a CIFAR spec without data says where to get it; a missing folder is named', async () => {
    const noDir = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, dataset: 'cifar10' })]);
    expect(noDir.code).toBe(2);
    expect(noDir.events[0]).toMatchObject({ event: 'error', reason: expect.stringMatching(/--data-dir.*normlab download cifar10/) });
    const missing = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, dataset: 'cifar10', dataDir: join(scratch, 'nope') })]);
    expect(missing.events[0]).toMatchObject({ event: 'error', reason: expect.stringContaining('does not exist') });
  });

  it('a corrupt checkpoint to resume from is a clear error, exit code 2', async () => {
    const dir = join(scratch, 'corrupt');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ckpt-e0001-b000000.nlck'), 'NLCKPT01 garbage');
    const r = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, checkpointDir: dir, resume: true })]);
    expect(r.code).toBe(2);
    expect(r.events.find((e) => e.event === 'error')).toMatchObject({ reason: expect.stringMatching(/ckpt-e0001-b000000\.nlck is unreadable/) });
  });

  it('no spec or unparsable JSON is exit code 2 with a usage message', async () => {
    const none = await runStandalone([]);
    expect(none.code).toBe(2);
    expect(none.events[0]).toMatchObject({ event: 'error', reason: expect.stringMatching(/no run spec given; usage/) });
    const bad = await runStandalone(['--spec-json', '{model:']);
    expect(bad.events[0]).toMatchObject({ event: 'error', reason: expect.stringMatching(/not valid JSON/) });
  });
});

describe('worker process: cancel', () => {
  it('forked: start over IPC, cancel mid-run → checkpoint, done/cancelled, exit 0; then resume from it', async () => {
    const checkpointDir = join(scratch, 'ipc');
    const forkRun = (spec: RunSpecInput, cancelAfterProgress: boolean) =>
      new Promise<Exit>((resolve) => {
        const child = fork(WORKER, [], { execArgv: tsNodeExecArgv(), silent: true, env: { ...process.env, XDG_CACHE_HOME: join(scratch, 'cache') } });
        const events: WorkerEvent[] = [];
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('message', (e: WorkerEvent) => {
          events.push(e);
          if (cancelAfterProgress && e.event === 'progress' && e.batch === 4) child.send({ type: 'cancel' } satisfies ParentMessage);
        });
        child.on('close', (code) => resolve({ code, events, stderr }));
        child.send({ type: 'start', spec: spec as never } satisfies ParentMessage);
      });

    // one epoch both times: resuming under a different config (epochs included) is refused
    const first = await forkRun({ ...longRun, epochs: 1, checkpointDir, runId: 7 }, true);
    expect(first.code).toBe(0);
    expect(first.events[0]).toMatchObject({ event: 'started', runId: 7, backend: 'wasm', device: 'cpu', resumedFromEpoch: 0 });
    const ckpt = first.events.find((e) => e.event === 'checkpoint');
    expect(ckpt).toMatchObject({ reason: 'cancel', epoch: 0, runId: 7 });
    expect(existsSync((ckpt as { path: string }).path)).toBe(true);
    // stopped within a batch or two of the message (it crosses the IPC channel while training goes on),
    // not at the end of the epoch's 16 batches
    const stoppedAt = Number(/ckpt-e0000-b(\d{6})\.nlck$/.exec((ckpt as { path: string }).path)![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(4);
    expect(stoppedAt).toBeLessThanOrEqual(6);
    expect(first.events.at(-1)).toMatchObject({ event: 'done', status: 'cancelled', runId: 7 });

    const resumed = await forkRun({ ...longRun, epochs: 1, checkpointDir, runId: 7, resume: true }, false);
    expect(resumed.code).toBe(0);
    const resumedLog = resumed.events.find((e) => e.event === 'log' && e.message.startsWith('resumed from'));
    expect(resumedLog).toMatchObject({ message: expect.stringContaining(`ckpt-e0000-b${String(stoppedAt).padStart(6, '0')}`) });
    // batch counting continues where it stopped (progress every 2 batches), it does not restart at 2
    const firstProgress = resumed.events.find((e) => e.event === 'progress');
    expect(firstProgress).toMatchObject({ epoch: 1, batch: stoppedAt + 2 - (stoppedAt % 2) });
    expect(resumed.events.at(-1)).toMatchObject({ event: 'done', status: 'finished' });
  });

  it('standalone: SIGTERM is an interrupt (stop for now): a checkpoint, done/interrupted and exit 0', async () => {
    const r = await runStandalone(['--spec-json', JSON.stringify({ ...longRun, checkpointDir: join(scratch, 'term') })], (e, child) => {
      if (e.event === 'progress' && e.batch === 2) child.kill('SIGTERM');
    });
    expect(r.code).toBe(0);
    expect(r.events.filter((e) => e.event === 'checkpoint')).toMatchObject([{ reason: 'cancel' }]);
    expect(r.events.at(-1)).toMatchObject({ event: 'done', status: 'interrupted' });
  });
});
