import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * The sweep builder and the runs page against `normlab serve` with real workers: the grouped builder, a missing
 * data folder refused before anything is queued, a sweep trained with its progress and ETA shown live, chosen
 * columns, and clone-and-edit of a cancelled run, each checked in the SQLite file itself.
 */
let dir: string;
let db: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-builder-'));
  db = join(dir, 'normlab.db');
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', db, '--workers', '2', '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true });

function readStore<T>(read: (store: ExperimentStore) => T): T {
  const store = ExperimentStore.open(db, { readonly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

describe('sweep builder and runs with real workers', () => {
  it('shows the builder grouped, with defaults and no red message on a fresh form', async () => {
    await page.goto(serve.url.split('#')[0] + '#/sweeps/new');
    await page.getByTestId('group-optimisation').waitFor({ timeout: 60_000 });
    for (const id of ['model-data', 'optimisation', 'schedule', 'normalization', 'execution']) expect(await page.getByTestId(`group-${id}`).isVisible()).toBe(true);
    expect(await page.locator('[data-field="momentum"] input').getAttribute('placeholder')).toBe('0.9 (default)');
    expect(await page.getByText('Fix the fields marked in red').count()).toBe(0);
    expect(await page.locator('[aria-invalid="true"]').count()).toBe(0);
    await shot('builder-grouped');
  });

  it('refuses a missing data folder at the field, before anything is queued', async () => {
    await page.locator('input[placeholder="kn-vs-bn-cifar10"]').fill('missing-folder');
    await page.locator('fieldset.models input[value="kn_cnn"]').check();
    await page.getByLabel('Data set').selectOption('cifar10');
    await page.getByLabel('Data folder').fill(join(dir, 'no-such-cifar'));
    const atField = page.locator('.dataset .error-text');
    await atField.waitFor({ timeout: 30_000 });
    expect(await atField.textContent()).toContain(`data folder ${join(dir, 'no-such-cifar')} does not exist`);
    await page.getByRole('button', { name: 'Queue the sweep' }).click();
    await page.waitForTimeout(1500);
    expect(page.url()).toContain('#/sweeps/new');
    expect(await atField.textContent()).toContain('does not exist');
    await shot('builder-missing-folder');
    expect(readStore((s) => [s.listSweeps().length, s.countRuns({})])).toEqual([0, 0]);
  });

  it('trains a sweep and shows its progress and ETA live', async () => {
    await page.locator('input[placeholder="kn-vs-bn-cifar10"]').fill('e2e-progress');
    await page.getByLabel('Data set').selectOption('synthetic');
    await page.locator('fieldset.models input[value="kn_cnn"]').uncheck();
    await page.locator('fieldset.models input[value="cnn"]').check();
    await page.getByLabel('Training images').fill('256');
    await page.getByLabel('Test images').fill('64');
    await page.getByLabel('Learning rates').fill('0.05');
    await page.getByLabel('Batch sizes').fill('16');
    await page.getByLabel('Epochs', { exact: true }).fill('3');
    await page.getByLabel('Repeats per configuration').fill('4');
    await expect.poll(() => page.getByTestId('run-count').textContent(), { timeout: 30_000 }).toMatch(/^4 runs/);
    await page.getByRole('button', { name: 'Queue the sweep' }).click();
    await page.waitForURL(/#\/runs\?sweep=\d+/, { timeout: 90_000 });
    const panel = page.getByTestId('sweep-progress');
    await panel.waitFor();
    expect((await panel.getByTestId('sweep-runs').textContent())?.trim()).toMatch(/^\d\/4 runs ended/);
    // an ETA once the first epochs are timed, while runs are still going
    await expect.poll(async () => (await panel.getByTestId('sweep-eta').textContent())?.trim(), { timeout: 100_000, interval: 300 }).toMatch(/^ETA \d/);
    expect((await panel.getByTestId('sweep-epochs').textContent())?.trim()).toMatch(/^[\d.]+\/12 epochs$/);
    await shot('sweep-progress');
  });

  it('clones a cancelled run with an edited config into the same sweep', async () => {
    const rows = page.locator('table[aria-label="Runs"] tbody tr');
    // the last run is still queued or running (2 workers, 4 runs): cancel it, then edit it
    const last = rows.last();
    const id = Number(await last.locator('td a').first().textContent());
    await page.getByRole('button', { name: `Cancel run ${id}` }).click();
    await page.getByRole('button', { name: `Clone and edit run ${id}` }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: `Clone and edit run ${id}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('input[name="lr"]').fill('0.02');
    await dialog.locator('input[name="epochs"]').fill('2');
    await shot('clone-and-edit-dialog');
    await dialog.getByRole('button', { name: 'Queue new run' }).click();
    await dialog.waitFor({ state: 'detached' });
    const [original, clones] = readStore((s) => [s.getRun(id), s.listRuns({ sweepId: s.getRun(id)?.sweepId }).filter((r) => r.id > id)]);
    expect(original?.status).toBe('cancelled');
    expect(clones.map((r) => [r.model, r.lr, r.epochs, r.spec.lr, r.spec.epochs, r.spec.syntheticTrainSize])).toEqual([['cnn', 0.02, 2, 0.02, 2, 256]]);
  });

  it('lets the user choose columns, and finishes the sweep', async () => {
    await page.getByTestId('column-picker-toggle').click();
    await page.locator('input[data-column="config.momentum"]').check();
    await page.locator('input[data-column="config.schedule"]').check();
    await page.locator('input[data-column="device"]').uncheck();
    await page.getByRole('button', { name: 'Done' }).click();
    const header = page.locator('table[aria-label="Runs"] thead th');
    await expect.poll(() => header.allTextContents()).toEqual(['Run', 'Model', 'Data', 'Width', 'Batch', 'LR', 'Epochs', 'Seed', 'Momentum', 'LR schedule', 'Status', 'Progress / result', 'Duration', 'Actions']);
    const panel = page.getByTestId('sweep-progress');
    await expect.poll(async () => (await panel.getByTestId('sweep-eta').textContent())?.trim(), { timeout: 100_000, interval: 500 }).toMatch(/^done in \d/);
    expect((await panel.getByTestId('sweep-runs').textContent())?.trim()).toMatch(/^5\/5 runs ended/);
    expect(await page.locator('td[data-col="config.momentum"]').first().textContent()).toBe('0.9');
    expect(await page.locator('td[data-col="duration"]').first().textContent()).toMatch(/^\d+ s$|min/);
    await shot('runs-columns');
    // the choice outlives the page
    await page.reload();
    await expect.poll(() => header.allTextContents(), { timeout: 30_000 }).toContain('Momentum');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
