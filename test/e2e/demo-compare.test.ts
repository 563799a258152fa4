import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normlab } from '../cli/normlab-cli';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * The demo's own sweep (`normlab demo`, shrunk: two models, 1 epoch, a few images) opened in Compare, as the
 * demo's last line tells a newcomer to do. Its groups differ in batch size and in the learning rate the paper
 * gives each model there: both must be columns and part of the series names, with one legend entry per series,
 * and the single sweep must not be a column.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-demo-compare-'));
  const db = join(dir, 'demo.db');
  const demo = await normlab([
    'demo', '--models', 'knresnet18,resnet18_bn', '--batch-sizes', '2,32', '--epochs', '1', '--seeds', '2',
    '--synthetic-train-size', '64', '--synthetic-test-size', '32', '--workers', '2', '--db', db,
  ], { cacheDir: join(dir, 'cache'), timeoutMs: 400_000 });
  if (demo.code !== 0) throw new Error(`normlab demo exited ${demo.code}:\n${demo.stderr}`);
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', db, '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
}, 480_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the demo's sweep in Compare", () => {
  it('makes batch size and learning rate columns and draws one legend entry per series', async () => {
    await page.goto(serve.url);
    await page.getByRole('link', { name: 'Compare' }).click();
    const table = page.getByRole('table', { name: 'Comparison of configurations' });
    await table.waitFor();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(4);
    const headers = (await table.locator('thead th[data-varying]').allTextContents()).map((h) => h.replace(/[▲▼]/g, '').trim());
    expect(headers).toContain('Batch size');
    expect(headers).toContain('Learning rate');
    // one sweep: nothing to tell apart by it
    expect(headers).not.toContain('Sweep');
    const batches = (await table.locator('td[data-field="batchSize"]').allTextContents()).map((b) => b.trim()).sort();
    expect(batches).toEqual(['2', '2', '32', '32']);
    for (const n of await table.locator('td[data-col="n"]').allTextContents()) expect(n.trim()).toBe('2');
    expect(await page.getByTestId('constant-fields').textContent()).toContain('Width multiplier 0.0625');

    const names = await page.getByTestId('step-curves').getByTestId('chart-legend').locator('li').allTextContents();
    expect(names).toHaveLength(4);
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name).toMatch(/^(knresnet18|resnet18_bn) · .*Batch size (2|32)/);
    await page.screenshot({ path: join(RESULTS_DIR, 'compare-demo-sweep.png'), fullPage: true });
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
