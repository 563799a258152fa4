import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticCityscapes } from '../../src-worker/data/cityscapes/synthetic';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * A real segmentation run (fc_knresnet18 at 1/8 width, 2 epochs, on the generated synthetic Cityscapes set)
 * trained by `normlab serve`'s own scheduler, followed in Chromium on its run page: the mask grid appears after
 * the first evaluation and moves to the second epoch's masks without a reload.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-seg-e2e-'));
  await writeSyntheticCityscapes(join(dir, 'cityscapes'), { trainImages: 16, valImages: 6, width: 128, height: 64, seed: 1 });
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--workers', '1', '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a segmentation run\'s page', () => {
  it('shows each epoch\'s validation masks as the run trains: image, ground truth and prediction per row, the epoch, a legend', async () => {
    const res = await fetch(`${serve.origin}/api/sweeps`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        spec: {
          name: 'seg-e2e',
          base: {
            dataset: 'cityscapes', dataDir: join(dir, 'cityscapes'), epochs: 2, batchSize: 2, lr: 0.05, width: 0.125,
            cropSize: [128, 64], scaleRange: [0.75, 1.25], lowResolution: true, schedule: { kind: 'poly', power: 0.9 }, backend: 'wasm',
          },
          grid: { model: ['fc_knresnet18'] },
        },
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ runs: { created: 1 } });

    await page.goto(serve.url);
    await page.waitForURL(`${serve.origin}/#/runs`);
    await page.getByRole('link', { name: '1', exact: true }).click();
    await page.getByRole('heading', { name: /Run 1 · fc_knresnet18/ }).waitFor();
    const grid = page.getByTestId('seg-mask-grid');
    await grid.waitFor();

    // follow the page without reloading it: every epoch the grid shows, until the run has finished
    const epochsShown = new Set<string>();
    const deadline = Date.now() + 240_000;
    for (;;) {
      const epoch = await page.getByTestId('seg-epoch').textContent({ timeout: 100 }).catch(() => null);
      if (epoch) epochsShown.add(epoch);
      if (epochsShown.has('after epoch 2') && (await page.locator('.status-finished').count()) > 0) break;
      if (Date.now() > deadline) throw new Error(`the run page showed ${[...epochsShown].join(', ') || 'no masks'} within 240 s`);
      await page.waitForTimeout(100);
    }
    expect([...epochsShown]).toEqual(['after epoch 1', 'after epoch 2']);

    const rows = grid.getByTestId('seg-row');
    expect(await rows.count()).toBe(4);
    for (let r = 0; r < 4; r++) {
      const images = rows.nth(r).locator('img');
      expect(await images.count()).toBe(3);
      const alts = await images.evaluateAll((els) => els.map((e) => e.getAttribute('alt') ?? ''));
      expect(alts.map((a) => a.split(': ')[1])).toEqual(['image', 'ground truth', 'prediction']);
      // decoded, not broken images: each has the preview's size
      const sizes = await images.evaluateAll((els) => els.map((e) => (e instanceof HTMLImageElement && e.complete ? `${e.naturalWidth}×${e.naturalHeight}` : 'not loaded')));
      expect(sizes).toEqual(['128×64', '128×64', '128×64']);
    }
    expect(await grid.getByRole('columnheader').allTextContents()).toEqual(['Image', 'Ground truth', 'Prediction']);
    const legend = await grid.getByRole('list', { name: 'Classes in these masks' }).locator('li').allTextContents();
    expect(legend).toEqual(expect.arrayContaining(['road', 'sky', 'building', 'ignored (not evaluated)']));
    const road = await grid.getByRole('list', { name: 'Classes in these masks' }).locator('li', { hasText: /^road$/ }).locator('.swatch')
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(road).toBe('rgb(128, 64, 128)');
    // the headline of a segmentation run is its mIoU, not a "top-1" that is really pixel accuracy
    expect(await page.getByTestId('final-miou').textContent()).toMatch(/^\d+\.\d\d %$/);
    expect(await page.getByText('Final test top-1').count()).toBe(0);
    expect(await page.getByText('Final pixel accuracy').count()).toBe(1);
    await grid.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(RESULTS_DIR, 'seg-run-detail.png'), fullPage: true });
    await grid.screenshot({ path: join(RESULTS_DIR, 'seg-mask-grid.png') });
  }, 300_000);

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
