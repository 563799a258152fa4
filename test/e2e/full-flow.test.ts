import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * The whole loop through the browser against `normlab serve` with its scheduler: build a sweep in the UI,
 * watch real worker processes train it to the end (live progress), compare, inspect kernel statistics and
 * export the per-epoch metrics. Tiny models and a tiny synthetic data set keep it to seconds.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-flow-'));
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--workers', '2', '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(RESULTS_DIR, `flow-${name}.png`), fullPage: true });

describe('build a sweep, run it with real workers, compare, export', () => {
  it('starts empty and says what to do', async () => {
    await page.goto(serve.url);
    await page.getByText('No runs yet.').waitFor();
    expect(await page.getByText('Build a sweep to queue runs').isVisible()).toBe(true);
    await shot('empty');
  });

  it('queues a KN vs BN vs GN vs LN sweep built in the UI', async () => {
    await page.getByRole('link', { name: 'Build a sweep' }).click();
    await page.locator('input[placeholder="kn-vs-bn-cifar10"]').fill('ui-flow');
    await page.getByRole('button', { name: 'KN vs BN/GN/LN, depth 18' }).click();
    await page.getByLabel('Width multipliers').fill('0.0625');
    await page.getByLabel('Training images').fill('64');
    await page.getByLabel('Test images').fill('32');
    await page.getByLabel('Learning rates').fill('0.05');
    await page.getByLabel('Batch sizes').fill('16');
    await page.getByLabel('Epochs').fill('2');
    await page.getByLabel('Repeats per configuration').fill('2');
    await page.getByLabel(/Kernel statistics every/).fill('2');
    await expect.poll(() => page.getByTestId('run-count').textContent()).toMatch(/^8 runs/);
    await shot('builder');
    await page.getByRole('button', { name: 'Queue the sweep' }).click();
    // a wait, not a speed check: on a 2-core CI machine the webgpu suites (SwiftShader uses every core) can run
    // beside this test, and the submit once took longer than playwright's default 30 s there
    await page.waitForURL(/#\/runs\?sweep=1/, { timeout: 90_000 });
  });

  it('shows the runs training live and finishing', async () => {
    const rows = page.locator('table[aria-label="Runs"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(8);
    // catch at least one run while it trains, with its device
    await page.locator('.status-running').first().waitFor({ timeout: 60_000 });
    expect(await rows.filter({ has: page.locator('.status-running') }).first().locator('td.mono').last().textContent()).toMatch(/^cpu:/);
    await shot('running');
    await expect.poll(() => page.locator('.status-finished').count(), { timeout: 240_000, interval: 500 }).toBe(8);
    expect(await page.getByText(/test top-1 \d+\.\d\d %/).count()).toBe(8);
    await shot('finished');
    // its own limit: the poll above may take 240 s on a loaded machine, past vitest's 120 s default
  }, 300_000);

  it('compares KernelNorm with BatchNorm, GroupNorm and LayerNorm over both seeds', async () => {
    await page.getByRole('link', { name: 'Compare' }).click();
    const table = page.getByRole('table', { name: 'Comparison of configurations' });
    await table.waitFor();
    const models = await table.locator('tbody tr td.mono').allTextContents();
    expect(models.sort()).toEqual(['knresnet18', 'resnet18_bn', 'resnet18_gn', 'resnet18_ln']);
    for (const n of await table.locator('tbody tr td[data-col="n"]').allTextContents()) expect(n).toBe('2');
    for (const cell of await table.locator('td[data-col="final"]').allTextContents()) expect(cell).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
    await shot('compare');
  });

  it('shows the KN layers statistics the workers sampled', async () => {
    await page.getByRole('link', { name: 'Kernel statistics' }).click();
    await page.getByText(/KernelNorm \(per window\) · \d+ samples/).first().waitFor();
    expect(await page.locator('.heatmap').count()).toBeGreaterThanOrEqual(2);
    await shot('kernel-stats');
  });

  it('exports the per-epoch metrics as CSV', async () => {
    await page.getByRole('link', { name: 'Export' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('button[data-export="metrics"]').click()]);
    const file = join(dir, 'metrics.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
    expect(lines[0]).toBe('run_id,sweep_id,group_key,model,seed,epoch,key,value,time');
    const testAcc = lines.filter((l) => l.includes(',test_acc,'));
    expect(testAcc).toHaveLength(8 * 2);
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
