import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { CoreCallError, CoreClient, type CoreEnd } from '../../src-main/core/core-client';
import { forkNodeCore } from '../../src-main/core/core-channel';
import type { LiveEvent } from '../../src-main/server/live-events';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { tempDir, tinySweep, waitFor } from '../main/scheduler/helpers';

/**
 * The core entry (src-main/core/core-process.ts) as a real Node child process, started the way a host starts it:
 * store, scheduler and workers live there, and only messages cross.
 */
const clients: CoreClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.shutdown({ timeoutMs: 30_000 });
});

function startCore(): CoreClient {
  const client = new CoreClient(forkNodeCore({ echoStderr: false }));
  clients.push(client);
  return client;
}

/** Every live event the client hears, flattened out of their batches. */
function recordLive(client: CoreClient): LiveEvent[] {
  const events: LiveEvent[] = [];
  client.onLive((batch) => events.push(...batch));
  return events;
}

async function rejection(promise: Promise<unknown>): Promise<CoreCallError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(CoreCallError);
  return outcome.error as CoreCallError;
}

const workerEvents = (events: LiveEvent[], runId: number, name: string) =>
  events.filter((e) => e.type === 'worker' && e.runId === runId && e.event.event === name);

describe('the core process', () => {
  it('answers calls with the service values, runs a sweep whose live events reach the host, and writes a CSV where the host says', async () => {
    const dir = tempDir('normlab-core-');
    const core = startCore();
    const live = recordLive(core);
    const opened = await core.open({ dbFile: join(dir, 'normlab.db'), devices: { cpuSlots: 1 }, liveIntervalMs: 50 });
    expect(opened).toMatchObject({ type: 'opened', readOnly: false, dataDir: join(dir, 'data') });
    expect(opened.pid).toBe(core.pid);
    expect(opened.pid).not.toBe(process.pid);

    expect(await core.call('listSweeps')).toEqual([]);
    const submitted = await core.call('submitSweep', tinySweep('core-live', { epochs: 2 }));
    expect(submitted).toMatchObject({ name: 'core-live', sweepCreated: true, runs: { total: 1, created: 1 } });
    expect(await core.call('getSweep', submitted.sweepId)).toMatchObject({ id: submitted.sweepId, name: 'core-live' });

    const [run] = await core.call('listRuns', { sweepId: submitted.sweepId });
    expect(run).toBeDefined();
    const runId = run?.id ?? -1;
    await waitFor(() => live.find((e) => e.type === 'run_ended' && e.runId === runId), 90_000, `run ${runId} to end`);
    expect(live.find((e) => e.type === 'run_started' && e.runId === runId)).toMatchObject({ device: expect.stringContaining('cpu') });
    expect(live.find((e) => e.type === 'run_ended' && e.runId === runId)).toEqual({ type: 'run_ended', runId, status: 'finished' });
    expect(workerEvents(live, runId, 'epoch').map((e) => e.type === 'worker' && e.event.event === 'epoch' && e.event.epoch)).toEqual([1, 2]);
    expect(live.some((e) => e.type === 'queue_changed')).toBe(true);
    // the events are what the store kept: the host's screens and a re-read agree
    const metrics = await core.call('getRunMetrics', runId, 'test_acc');
    expect(metrics.test_acc?.map((p) => p.step)).toEqual([1, 2]);

    const csvPath = join(dir, 'runs.csv');
    expect(await core.exportCsvToFile('runs', { sweepId: submitted.sweepId }, csvPath)).toEqual({ rows: 1, path: csvPath });
    const rows = parse<Record<string, string>>(readFileSync(csvPath, 'utf8'), { columns: true });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'finished', model: 'cnn' });
  });

  it('refuses a bad call with the same code and problems HTTP gives, and keeps answering', async () => {
    const dir = tempDir('normlab-core-bad-');
    const core = startCore();
    await core.open({ dbFile: join(dir, 'normlab.db'), devices: { cpuSlots: 1 } });

    const badId = await rejection(core.request('getRun', ['seven']));
    expect(badId.code).toBe('invalid_input');
    expect(badId.body.problems).toEqual([expect.stringMatching(/^id: /)]);
    expect(badId.message).toMatch(/invalid request for getRun/);

    expect((await rejection(core.request('dropAllTables', []))).body).toEqual({ code: 'invalid_input', message: 'unknown API method "dropAllTables"', problems: [] });
    expect((await rejection(core.request('getRun', 7))).message).toBe('arguments of getRun must be an array');
    expect((await rejection(core.call('getRun', 4242))).body).toMatchObject({ code: 'not_found', message: expect.stringContaining('4242') });

    const badSpec = await rejection(core.call('submitSweep', { ...tinySweep('bad'), grid: { model: ['cnn'], lr: [0.1, -1] } }));
    expect(badSpec.code).toBe('invalid_input');
    expect(badSpec.body.problems.join('\n')).toMatch(/grid\.lr\[1\]/);
    // a path on disk is only the host's to name: exportCsv over the call route has no such argument
    const csvPath = join(dir, 'renderer-chosen.csv');
    const viaCall = (await core.request('exportCsv', ['runs', {}, csvPath])) as { csv?: string; path?: string };
    expect(viaCall.path).toBeUndefined();
    expect(typeof viaCall.csv).toBe('string');
    expect(existsSync(csvPath)).toBe(false);
    const badFilter = await rejection(core.exportCsvToFile('runs', { sweepId: 'all' }, csvPath));
    expect(badFilter.code).toBe('invalid_input');
    expect(badFilter.body.problems.join('\n')).toMatch(/sweepId/);
    expect((await rejection(core.exportCsvToFile('everything', {}, csvPath))).code).toBe('invalid_input');
    expect(existsSync(csvPath)).toBe(false);

    expect(await core.call('listSweeps')).toEqual([]);
  });

  it('on shutdown interrupts a running run, which checkpoints and resumes in the next core', async () => {
    const dir = tempDir('normlab-core-stop-');
    const dbFile = join(dir, 'normlab.db');
    const first = startCore();
    const firstLive = recordLive(first);
    await first.open({ dbFile, devices: { cpuSlots: 1 }, liveIntervalMs: 50 });
    const { sweepId } = await first.call('submitSweep', tinySweep('core-stop', { epochs: 4 }));
    const [run] = await first.call('listRuns', { sweepId });
    const runId = run?.id ?? -1;
    await waitFor(() => workerEvents(firstLive, runId, 'epoch').length > 0, 90_000, `run ${runId}'s first epoch`);

    const end = await first.shutdown();
    expect(end).toMatchObject({ code: 0, signal: null, expected: true });
    expect(workerEvents(firstLive, runId, 'done')).toEqual([
      expect.objectContaining({ event: expect.objectContaining({ status: 'interrupted' }) }),
    ]);
    const store = ExperimentStore.open(dbFile, { readonly: true });
    try {
      expect(store.getRun(runId)?.status).toBe('interrupted');
    } finally {
      store.close();
    }
    expect((await rejection(first.call('listSweeps'))).message).toMatch(/cannot run listSweeps: the NormLab core process \(pid \d+\) exited with code 0/);

    const second = startCore();
    const secondLive = recordLive(second);
    await second.open({ dbFile, devices: { cpuSlots: 1 }, liveIntervalMs: 50 });
    await waitFor(() => secondLive.find((e) => e.type === 'run_ended' && e.runId === runId), 120_000, `run ${runId} to finish after resuming`);
    const [started] = workerEvents(secondLive, runId, 'started');
    expect(started?.type === 'worker' && started.event.event === 'started' && started.event.resumedFromEpoch).toBeGreaterThanOrEqual(1);
    expect(secondLive.find((e) => e.type === 'run_ended' && e.runId === runId)).toMatchObject({ status: 'finished' });
    const metrics = await second.call('getRunMetrics', runId, 'test_acc');
    expect(metrics.test_acc?.map((p) => p.step)).toEqual([1, 2, 3, 4]);
  });

  it('interrupts its runs and exits when its host dies without a word', async () => {
    const dir = tempDir('normlab-core-orphan-');
    const dbFile = join(dir, 'normlab.db');
    const host = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'host-that-dies.ts'), dbFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    host.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const said = { core: 0, run: 0 };
    await new Promise<void>((resolve, reject) => {
      let out = '';
      host.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        said.core = Number(/core (\d+)/.exec(out)?.[1] ?? 0);
        said.run = Number(/epoch (\d+)/.exec(out)?.[1] ?? 0);
        if (said.run) resolve();
      });
      host.once('exit', (code) => reject(new Error(`the host exited (${code}) before its run finished an epoch:\n${stderr}`)));
    });
    host.kill('SIGKILL');

    const alive = () => {
      try {
        process.kill(said.core, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => !alive(), 60_000, `the orphaned core (pid ${said.core}) to exit`);
    const store = ExperimentStore.open(dbFile, { readonly: true });
    try {
      expect(store.getRun(said.run)?.status).toBe('interrupted');
      // it let go of the scheduling lease, so the next NormLab need not wait for it to expire
      expect(store.lease()).toBeNull();
    } finally {
      store.close();
    }
  });

  it('rejects the calls waiting on a core that dies, and every later call, saying it stopped', async () => {
    const dir = tempDir('normlab-core-crash-');
    const core = startCore();
    await core.open({ dbFile: join(dir, 'normlab.db'), devices: { cpuSlots: 1 } });
    const ends: CoreEnd[] = [];
    core.onEnd((end) => ends.push(end));
    const pid = core.pid ?? -1;
    // stopped, the core cannot answer, so the call is surely still waiting when the process dies
    process.kill(pid, 'SIGSTOP');
    const waiting = core.call('listSweeps');
    const alsoWaiting = core.call('getRun', 1);
    process.kill(pid, 'SIGKILL');

    const error = await rejection(waiting);
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(new RegExp(`stopped unexpectedly before answering listSweeps: the NormLab core process \\(pid ${pid}\\) was killed by SIGKILL`));
    expect((await rejection(alsoWaiting)).message).toMatch(/before answering getRun/);
    expect(ends).toEqual([expect.objectContaining({ expected: false, signal: 'SIGKILL', code: null })]);
    expect((await rejection(core.call('listRuns'))).message).toMatch(/^cannot run listRuns: .* was killed by SIGKILL/);
  });

  it('says why it could not open, and exits', async () => {
    const dir = tempDir('normlab-core-open-');
    const notADb = join(dir, 'notes.txt');
    writeFileSync(notADb, 'this is not an SQLite file, and it is long enough to have a header page to read\n'.repeat(20));
    const core = startCore();
    const error = await rejection(core.open({ dbFile: notADb, devices: { cpuSlots: 1 } }));
    expect(error.message).toMatch(/notes\.txt/);
    expect(await core.ended).toMatchObject({ code: 1, expected: false });
  });
});
