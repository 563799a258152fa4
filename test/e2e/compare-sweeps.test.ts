import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * Compare and the paper table over real runs: two sweeps of 2 models × 2 seeds trained by real worker processes
 * under `normlab serve`, one of 1 epoch and one of 2 (tiny width, a tiny synthetic set). Compare must show the
 * fields that differ (epochs, sweep) as columns with one legend entry per series, the step-level train loss with
 * ±SD bands over the seeds, and a paper table that puts the two epoch counts in separate columns.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const MODELS = ['knresnet18', 'resnet18_bn'];
// 128 images at batch 16 are 8 optimizer steps an epoch; a step point every 2 steps gives 4 points per epoch
const BASE = { dataset: 'synthetic', batchSize: 16, lr: 0.05, width: 0.0625, syntheticTrainSize: 128, syntheticTestSize: 32, logEverySteps: 2, statsEvery: 0 };

async function api(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${serve.origin}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${serve.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-compare-'));
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--workers', '2', '--static-dir', ui]);
  for (const [name, epochs] of [['one-epoch', 1], ['two-epochs', 2]] as const) {
    await api('/api/sweeps', { spec: { name, base: { ...BASE, epochs }, grid: { model: MODELS }, seeds: [1, 2] } });
  }
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Compare over two real sweeps that differ in epochs', () => {
  it('trains all 8 runs with real workers', async () => {
    await expect
      .poll(async () => ((await api('/api/runs')) as { status: string }[]).filter((r) => r.status === 'finished').length, { timeout: 400_000, interval: 1000 })
      .toBe(8);
  }, 420_000);

  it('makes the differing fields columns, states the rest once, and draws one legend entry per series', async () => {
    await page.goto(serve.url);
    await page.getByRole('link', { name: 'Compare' }).click();
    const table = page.getByRole('table', { name: 'Comparison of configurations' });
    await table.waitFor();
    const headers = (await table.locator('thead th[data-varying]').allTextContents()).map((h) => h.replace(/[▲▼]/g, '').trim());
    expect(headers).toEqual(['Epochs', 'Sweep']);
    expect(await table.locator('tbody tr').count()).toBe(4);
    const epochs = await table.locator('td[data-field="epochs"]').allTextContents();
    expect(epochs.map((e) => e.trim()).sort()).toEqual(['1', '1', '2', '2']);
    const sweeps = await table.locator('td[data-field="sweep"]').allTextContents();
    expect(sweeps.map((s) => s.trim()).sort()).toEqual(['one-epoch', 'one-epoch', 'two-epochs', 'two-epochs']);
    for (const n of await table.locator('td[data-col="n"]').allTextContents()) expect(n.trim()).toBe('2');
    const constants = await page.getByTestId('constant-fields').textContent();
    expect(constants).toContain('Batch size 16');
    expect(constants).toContain('Learning rate 0.05');
    expect(constants).toContain('Width multiplier 0.0625');
    expect(constants).not.toContain('Epochs');

    // four ticked rows, four legend entries, each naming its model, epochs and sweep
    expect(await table.locator('tbody input[type="checkbox"]:checked').count()).toBe(4);
    const legend = page.getByTestId('epoch-curves').getByTestId('chart-legend').locator('li');
    const names = await legend.allTextContents();
    expect(names).toHaveLength(4);
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name).toMatch(/^(knresnet18|resnet18_bn) · Epochs [12] · Sweep (one-epoch|two-epochs)$/);
    await page.screenshot({ path: join(RESULTS_DIR, 'compare-varying-fields.png'), fullPage: true });
  });

  it('draws the step-level train loss with ±SD bands over the seeds, starting at the first logged step', async () => {
    const section = page.getByTestId('step-curves');
    await section.waitFor();
    expect(await section.getByTestId('chart-legend').locator('li').count()).toBe(4);
    await section.scrollIntoViewIfNeeded();
    // hover the plot so the tooltip shows mean ± SD and n
    const canvas = section.locator('canvas').first();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('the step chart has no canvas');
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.4);
    const tooltip = page.locator('div').filter({ hasText: /^step \d+/ }).last();
    await tooltip.waitFor({ timeout: 10_000 });
    const text = (await tooltip.textContent()) ?? '';
    expect(text).toMatch(/± [\d.]+ \(n=2\)/);
    await section.screenshot({ path: join(RESULTS_DIR, 'compare-step-curves.png') });
  });

  it('puts the two epoch counts of the paper table in separate columns', async () => {
    const pre = page.getByTestId('paper-table');
    await pre.scrollIntoViewIfNeeded();
    const md = (await pre.textContent()) ?? '';
    expect(md).toContain('| Model | B=16, Epochs 1 | B=16, Epochs 2 |');
    const rows = md.split('\n').filter((l) => l.startsWith('| KNResNet-18') || l.startsWith('| ResNet-18'));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/^\| [^|]+ \| \**\d+\.\d\d ± \d+\.\d\d\** \| \**\d+\.\d\d ± \d+\.\d\d\** \|$/);
    expect(md).toMatch(/Same in every cell: .*Learning rate 0\.05/);
    expect(md).toMatch(/B=16, Epochs 1: (no clear winner|.* is best \(Welch's t-test)/);
    expect(await page.getByTestId('paper-table-axes').textContent()).toContain('differ in Epochs');
    await page.locator('section[aria-labelledby="paper-title"]').screenshot({ path: join(RESULTS_DIR, 'paper-table-two-sweeps.png') });
  });

  it('shows one sweep alone with nothing varying but the model, its epochs stated once, and its step curves', async () => {
    // the filter bar's first select; other controls' names contain "Sweep" too (the column, the series names)
    await page.locator('.filters select').first().selectOption({ label: 'one-epoch' });
    const table = page.getByRole('table', { name: 'Comparison of configurations' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.locator('thead th[data-varying]').count()).toBe(0);
    expect(await page.getByTestId('constant-fields').textContent()).toContain('Epochs 1');
    // single-point epoch curves would be dots at the axis' edge; the page says where to look instead
    expect(await page.getByTestId('one-epoch-note').isVisible()).toBe(true);
    const legend = await page.getByTestId('step-curves').getByTestId('chart-legend').locator('li').allTextContents();
    expect(legend.sort()).toEqual(['knresnet18', 'resnet18_bn']);
    await page.screenshot({ path: join(RESULTS_DIR, 'compare-one-epoch-sweep.png'), fullPage: true });
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
