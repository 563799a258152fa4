import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { buildRendererInto, launchChromium, RESULTS_DIR, ROOT, startServe, type ServeProcess } from './serve-harness';

/**
 * A run trained by a real worker through `normlab sweep` (real store), then its page in Chromium through
 * `normlab serve`: the per-step train loss (raw and smoothed) and lr beside the epoch curves.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let runId: number;
const pageErrors: string[] = [];

// 512 images in batches of 16: 32 steps an epoch, 64 over the run, a point every 2 steps
const SWEEP = {
  name: 'step-curves',
  base: {
    dataset: 'synthetic', syntheticTrainSize: 512, syntheticTestSize: 64, epochs: 2, batchSize: 16, width: 0.25,
    backend: 'wasm', statsEvery: 0, logEverySteps: 2,
  },
  grid: { model: ['kn_cnn'], lr: [0.05] },
  seeds: [1],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-steps-e2e-'));
  const specFile = join(dir, 'sweep.json');
  writeFileSync(specFile, JSON.stringify(SWEEP));
  const db = join(dir, 'normlab.db');
  const trained = spawnSync(process.execPath, [join(ROOT, 'bin', 'normlab.mjs'), 'sweep', specFile, '--db', db, '--workers', '1', '--json'], { encoding: 'utf8', timeout: 240_000 });
  if (trained.status !== 0) throw new Error(`normlab sweep failed (${trained.status}):\n${trained.stderr}`);
  const store = ExperimentStore.open(db, { readonly: true });
  try {
    const [run] = store.listRuns();
    if (!run) throw new Error('the sweep queued no run');
    runId = run.id;
  } finally {
    store.close();
  }
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', db, '--no-scheduler', '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
}, 420_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('run detail: step-level curves', () => {
  it('shows the per-step loss, raw and smoothed, and the lr per step, from the first logged step', async () => {
    await page.goto(`${serve.url}#/runs/${runId}`);
    const panel = page.getByTestId('step-curves');
    await panel.waitFor({ timeout: 30_000 });
    expect(await panel.textContent()).toMatch(/32 points, steps 2–64/);
    await expect.poll(() => page.getByRole('img', { name: 'Train loss per step chart' }).isVisible()).toBe(true);
    expect(await page.getByRole('img', { name: 'Learning rate per step chart' }).isVisible()).toBe(true);
    // the epoch curves are still there, next to the step curves
    expect(await page.getByRole('img', { name: 'Loss chart' }).isVisible()).toBe(true);
    expect(await page.getByText('train loss (raw), train loss (EMA α 0.60)').count()).toBe(1);

    await page.getByLabel('Smoothing of the step-level loss').fill('0.8');
    await expect.poll(() => page.getByText('train loss (raw), train loss (EMA α 0.80)').count()).toBe(1);
    expect(await panel.locator('.smoothing .mono').textContent()).toBe('0.80');
    // the run's epochs are counted from the epoch metrics, not from the step numbers
    expect(await page.getByTestId('epochs-done').textContent()).toBe('2 / 2');
    // the config table shows only what applies once the model registry has loaded (no GroupNorm groups on KN)
    await expect.poll(() => page.getByText('GroupNorm groups').count(), { timeout: 30_000 }).toBe(0);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(RESULTS_DIR, 'run-detail-step-curves.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
