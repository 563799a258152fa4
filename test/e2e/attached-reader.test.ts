import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueState } from '../../src-main/api/types';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import type { RunRecord } from '../../src-main/store/types';
import { buildRendererInto, launchChromium, RESULTS_DIR, ROOT, startServe, type ServeProcess } from './serve-harness';

/**
 * A second process on a DB that `normlab sweep` schedules: `normlab serve` (its scheduler waits for the lease)
 * names the sweep's process in /api/queue and in a banner, and its pages follow the sweep's run to the end by
 * re-reading the store, with no live worker event reaching the browser. Then `serve --no-scheduler` on the same
 * DB: the holder it reports, and nobody once that server stops.
 */
let dir: string;
let db: string;
let ui: string;
let browser: Browser;
let sweep: ChildProcess | null = null;
const servers: ServeProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-attached-'));
  db = join(dir, 'normlab.db');
  ui = await buildRendererInto(join(dir, 'renderer'));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  if (sweep && sweep.exitCode === null) sweep.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function until<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function queueState(serve: ServeProcess): Promise<QueueState> {
  const res = await fetch(`${serve.origin}/api/queue`, { headers: { Authorization: `Bearer ${serve.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as QueueState;
}

/** The worker events, run starts and run ends the page received over its live WebSocket. */
function recordLiveRunEvents(page: Page): string[] {
  const seen: string[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const msg = JSON.parse(String(payload)) as { type: string; events?: { type: string }[] };
      for (const e of msg.events ?? []) if (e.type === 'worker' || e.type === 'run_started' || e.type === 'run_ended') seen.push(e.type);
    }),
  );
  return seen;
}

describe('serve attached to a store that `normlab sweep` schedules', () => {
  it('names the sweep process, follows its run to the end by reading the store, then takes over the lease', async () => {
    // one cnn run, 4 epochs of ~2-3 s each on wasm: long enough to watch it from the browser
    const specFile = join(dir, 'spec.json');
    writeFileSync(
      specFile,
      JSON.stringify({
        name: 'elsewhere',
        base: { dataset: 'synthetic', syntheticTrainSize: 6144, syntheticTestSize: 128, epochs: 4, batchSize: 16, width: 0.25, backend: 'wasm', progressEvery: 4 },
        grid: { model: ['cnn'], lr: [0.05] },
        seeds: [1],
      }),
    );
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'normlab.mjs'), 'sweep', specFile, '--db', db, '--workers', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sweep = child;
    let sweepErr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (sweepErr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

    // the sweep's run is training before serve opens the DB
    await until(
      () => {
        try {
          const reader = ExperimentStore.open(db, { readonly: true });
          try {
            return reader.listRuns().some((r) => r.status === 'running');
          } finally {
            reader.close();
          }
        } catch {
          return false; // not created yet
        }
      },
      60_000,
      `the sweep's run to be running (sweep stderr: ${sweepErr})`,
    );

    const serve = await startServe(['--db', db, '--workers', '1', '--static-dir', ui]);
    servers.push(serve);
    const state = await queueState(serve);
    expect(state).toMatchObject({ hasScheduler: true, paused: false, scheduledBy: { pid: child.pid, host: hostname(), self: false } });
    expect(state.scheduledBy!.heartbeatAgeMs).toBeLessThan(5000);

    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const liveRunEvents = recordLiveRunEvents(page);
    await page.goto(serve.url);
    const banner = page.getByTestId('scheduler-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain(`pid ${child.pid} on host ${hostname()}`);
    expect(await banner.textContent()).toContain('reading the store every 2 s');
    expect(await page.getByTestId('queue-control-reason').textContent()).toContain(`pid ${child.pid}`);
    expect(await page.getByRole('button', { name: 'Pause queue' }).isDisabled()).toBe(true);

    // the row's epoch count, as the store has it, grows while the sweep trains (nothing else could move it)
    const row = page.locator('table[aria-label="Runs"] tbody tr').first();
    const epochsShown = new Set<string>();
    let shotWhileRunning = false;
    const finished = await until(
      async () => {
        const text = (await row.textContent()) ?? '';
        const m = /(\d)\/4 epochs done/.exec(text);
        if (m) epochsShown.add(m[1]);
        if (m && Number(m[1]) >= 1 && !shotWhileRunning) {
          shotWhileRunning = true;
          await page.screenshot({ path: join(RESULTS_DIR, 'attached-runs-following.png'), fullPage: true });
          // the run page follows too: its epoch fact advances without live events
          const detail = await browser.newPage({ viewport: { width: 1400, height: 900 } });
          const detailLiveEvents = recordLiveRunEvents(detail);
          await detail.goto(serve.url); // a new page is a new browser context: it signs in with the token first
          await detail.getByRole('link', { name: '1', exact: true }).click();
          await detail.waitForURL(/#\/runs\/1$/);
          await detail.getByTestId('scheduler-banner').waitFor();
          const epochsFact = detail.getByTestId('epochs-done');
          await epochsFact.waitFor({ timeout: 10_000 }).catch(async (err: unknown) => {
            await detail.screenshot({ path: join(RESULTS_DIR, 'attached-run-detail-failed.png'), fullPage: true });
            throw err;
          });
          const first = Number((await epochsFact.textContent())!.split('/')[0]);
          await until(async () => Number((await epochsFact.textContent())!.split('/')[0]) > first, 30_000, 'the run page to show a later epoch');
          await detail.screenshot({ path: join(RESULTS_DIR, 'attached-run-detail.png'), fullPage: true });
          expect(detailLiveEvents).toEqual([]);
          await detail.close();
        }
        return text.includes('finished') && text.includes('test top-1') ? text : null;
      },
      90_000,
      'the runs page to show the run finished',
    );
    expect(finished).toContain('finished');
    expect(epochsShown.size, `epoch counts seen: ${[...epochsShown].join(',')}`).toBeGreaterThanOrEqual(2);
    expect(liveRunEvents).toEqual([]);

    expect(await exited, sweepErr).toBe(0);
    const reader = ExperimentStore.open(db, { readonly: true });
    let run: RunRecord;
    try {
      run = reader.listRuns()[0]!;
    } finally {
      reader.close();
    }
    expect(run).toMatchObject({ status: 'finished', attempts: 1, epochsCompleted: 4 });

    // the sweep left: this server's scheduler takes the lease, and the banner goes
    await until(async () => (await queueState(serve)).scheduledBy?.self === true, 15_000, 'serve to hold the lease');
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    // between the sweep's release and serve's take-over the page may have read "nobody holds it yet" (no banner,
    // pause still disabled); its next read of the store enables pause
    await until(async () => page.getByRole('button', { name: 'Pause queue' }).isEnabled(), 10_000, 'pause to be enabled once serve holds the lease');
    await page.screenshot({ path: join(RESULTS_DIR, 'attached-runs-taken-over.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('with --no-scheduler reports the holder (here the first server), then nobody, and says queued runs wait', async () => {
    const holder = servers[0];
    const viewer = await startServe(['--db', db, '--no-scheduler', '--static-dir', ui]);
    servers.push(viewer);
    expect(await queueState(viewer)).toMatchObject({ paused: null, hasScheduler: false, scheduledBy: { pid: holder.child.pid, self: false } });

    await holder.stop(); // releases the lease on the way out
    expect(await queueState(viewer)).toEqual({ paused: null, hasScheduler: false, scheduledBy: null });

    const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
    await page.goto(viewer.url);
    const banner = page.getByTestId('scheduler-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('No NormLab process is scheduling runs in this store');
    expect(await banner.textContent()).toContain('Queued runs wait');
    expect(await page.getByRole('button', { name: 'Pause queue' }).count()).toBe(0);
    await page.screenshot({ path: join(RESULTS_DIR, 'attached-readonly-nobody.png'), fullPage: true });
    await page.close();
  });
});
