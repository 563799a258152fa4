import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, SweepSummary } from '../../src-main/store/types';
import { placeholderCifar100 } from '../fixtures/table1-data';
import { populateTable1FixtureStore } from './paper-table1-fixture';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * The Paper Table 1 view in Chromium against `normlab serve` (real store, real scheduler, paused so nothing
 * trains): a few finished runs of the template render as "ours" beside the paper's column, then the Reproduce
 * button queues the whole template (189 runs) at a tiny width and 1 epoch, the cells say queued, and cancelling
 * every run turns them into "not run".
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`${serve.origin}${path}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${serve.token}`, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-table1-'));
  // where `normlab serve` looks for data by default (data/ next to the DB): CIFAR-100's files, empty, never trained on
  const dataDir = placeholderCifar100(join(dir, 'data'));
  const db = join(dir, 'normlab.db');
  populateTable1FixtureStore(db, dataDir);
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', db, '--workers', '1', '--static-dir', ui]);
  await api('/api/queue/pause', { method: 'POST', body: {} });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const table = () => page.getByRole('table', { name: 'Paper Table 1' });
const ours = (model: string, batch: number) => table().locator(`tr[data-model="${model}"] td.ours[data-batch="${batch}"]`);
const paper = (model: string, batch: number) => table().locator(`tr[data-model="${model}"] td.paper[data-batch="${batch}"]`);

describe('Paper Table 1', () => {
  it('lays out the models × batch sizes with our finished runs beside the paper\'s column', async () => {
    await page.goto(serve.url);
    await page.getByRole('link', { name: 'Paper Table 1' }).click();
    await table().waitFor();
    await expect.poll(() => ours('knresnet18', 2).locator('.main').textContent(), { timeout: 30_000 }).toBe('71.00 ± 1.00 (n=3)');
    expect(await table().locator('tbody tr').count()).toBe(21);
    expect(await table().locator('thead th.batch').allTextContents()).toEqual(['Batch size 2', 'Batch size 32', 'Batch size 256']);
    expect(await ours('resnet18_bn', 2).locator('.main').textContent()).toBe('32.00 ± 2.00 (n=3)');
    expect(await ours('resnet18_gn', 32).locator('.main').textContent()).toBe('61.00 ± 1.41 (n=2)');
    expect(await ours('resnet18_gn', 32).locator('.detail').textContent()).toContain('1 failed');
    expect(await ours('knresnet18', 2).locator('.detail').textContent()).toContain('lr 0.0015625');
    expect(await ours('knresnet50', 256).locator('.main').textContent()).toBe('not run');
    // no published number has been transcribed, and none is invented: the paper column says so
    expect(await paper('knresnet18', 2).textContent()).toBe('—');
    expect(await page.getByTestId('table1-missing-note').textContent()).toContain('never filled in from memory');
    expect(await page.getByRole('link', { name: /Nasirigerdeh et al\., Kernel Normalized Convolutional Networks, TMLR 2024, Table 1/ }).getAttribute('href'))
      .toBe('https://arxiv.org/html/2205.10089v4');
    expect(await page.getByTestId('table1-progress').textContent()).toBe('8 of 9 runs finished · 1 failed');
    await page.screenshot({ path: join(RESULTS_DIR, 'paper-table1.png'), fullPage: true });
  });

  it('queues the template with width 1/16 and 1 epoch from the Reproduce dialog: 189 runs, cells say queued', async () => {
    await page.getByRole('button', { name: 'Reproduce Table 1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reproduce Table 1' });
    await expect.poll(() => dialog.getByTestId('table1-run-count').textContent()).toBe('189 runs: 63 configurations × 3 seeds, in sweep “paper-table1 w1 e150”');
    await dialog.getByLabel('Width multiplier').fill('0.0625');
    await dialog.getByLabel('Epochs').fill('1');
    await expect.poll(() => dialog.getByTestId('table1-run-count').textContent()).toBe('189 runs: 63 configurations × 3 seeds, in sweep “paper-table1 w0.0625 e1”');
    await expect.poll(() => dialog.getByTestId('table1-data').textContent()).toContain('present');
    await page.screenshot({ path: join(RESULTS_DIR, 'paper-table1-dialog.png') });
    await dialog.getByRole('button', { name: 'Queue 189 runs' }).click();
    await page.getByText('Queued 189 new runs in sweep “paper-table1 w0.0625 e1”.').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('table1-variant').locator('option:checked').textContent()).toBe('width 0.0625, 1 epoch');
    await expect.poll(() => page.getByTestId('table1-progress').textContent()).toBe('0 of 189 runs finished · 189 queued');
    expect(await ours('knresnet18', 2).locator('.main').textContent()).toBe('3 queued');
    expect(await ours('preact_resnet50_ln', 256).locator('.main').textContent()).toBe('3 queued');

    const sweeps = (await api<SweepSummary[]>('/api/sweeps')).filter((s) => s.name.startsWith('paper-table1 w0.0625 e1'));
    expect(sweeps.map((s) => [s.name, s.runCounts.queued])).toEqual([['paper-table1 w0.0625 e1', 189]]);
    expect(await api<number>('/api/runs/count?status=queued')).toBe(189);
    await page.screenshot({ path: join(RESULTS_DIR, 'paper-table1-queued.png'), fullPage: true });
  }, 120_000);

  it('shows "not run" once the queued runs are cancelled', async () => {
    const queued = await api<RunRecord[]>('/api/runs?status=queued&limit=1000');
    expect(queued).toHaveLength(189);
    for (const run of queued) await api(`/api/runs/${run.id}/cancel`, { method: 'POST', body: {} });
    expect(await api<number>('/api/runs/count?status=queued')).toBe(0);
    await expect.poll(() => page.getByTestId('table1-progress').textContent(), { timeout: 30_000 }).toBe('0 of 189 runs finished · 189 cancelled');
    expect(await ours('knresnet18', 2).locator('.main').textContent()).toBe('not run');
    expect(await ours('knresnet18', 2).locator('.detail').textContent()).toContain('3 cancelled');
    // the paper's setting is still there, unmixed with the quick look
    await page.getByTestId('table1-variant').selectOption({ label: 'width 1, 150 epochs (the paper\'s)' });
    await expect.poll(() => ours('knresnet18', 2).locator('.main').textContent()).toBe('71.00 ± 1.00 (n=3)');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
