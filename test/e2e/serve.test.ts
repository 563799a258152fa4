import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_BATCHES, FIXTURE_MODELS, FIXTURE_SEEDS, populateFixtureStore } from './fixture-store';
import { buildApp, launchChromium, RESULTS_DIR, ROOT, startServe, wsText, type ServeProcess } from './serve-harness';

/**
 * `normlab serve` on a real DB in a temp dir, read-only (no scheduler): the token guard, the API, and every page
 * showing the data written through the store, with a screenshot of each in test-results/.
 */
let dir: string;
let fixture: ReturnType<typeof populateFixtureStore>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  await buildApp();
  dir = mkdtempSync(join(tmpdir(), 'normlab-e2e-'));
  fixture = populateFixtureStore(join(dir, 'normlab.db'));
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--no-scheduler']);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(RESULTS_DIR, `serve-${name}.png`), fullPage: true });
}

describe('electron-vite build', () => {
  it('outputs the main process, a CommonJS sandboxed preload and the renderer', () => {
    expect(existsSync(join(ROOT, 'out/main/index.js'))).toBe(true);
    const preload = readFileSync(join(ROOT, 'out/preload/index.cjs'), 'utf8');
    expect(preload).toContain('exposeInMainWorld');
    expect(preload).not.toMatch(/^import /m);
    const html = readFileSync(join(ROOT, 'out/renderer/index.html'), 'utf8');
    expect(html).toContain("script-src 'self'");
    expect(html).toMatch(/<script type="module"[^>]*src="\.\/assets\//);
  });
});

describe('normlab serve: access', () => {
  const api = (path: string, init: RequestInit = {}) => fetch(`${serve.origin}${path}`, init);
  const bearer = () => ({ Authorization: `Bearer ${serve.token}` });

  it('listens on loopback and prints a URL with a long random token', () => {
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
  });

  it('refuses every /api/ route without the token (401) and answers with it (200)', async () => {
    for (const path of ['/api/runs', '/api/sweeps', '/api/models', '/api/export/runs.csv']) {
      expect((await api(path)).status, path).toBe(401);
      expect((await api(path, { headers: { Authorization: 'Bearer wrong' } })).status, path).toBe(401);
    }
    const res = await api('/api/runs', { headers: bearer() });
    expect(res.status).toBe(200);
    const runs = (await res.json()) as { id: number; status: string }[];
    expect(runs).toHaveLength(FIXTURE_MODELS.length * FIXTURE_BATCHES.length * FIXTURE_SEEDS.length + 2);
    expect(runs.filter((r) => r.status === 'finished')).toHaveLength(fixture.runIds.length);
  });

  it('trades ?token= for an HttpOnly cookie that later requests carry', async () => {
    const landing = await api(`/?token=${serve.token}`, { redirect: 'manual' });
    expect(landing.status).toBe(302);
    expect(landing.headers.get('location')).toBe('/');
    const cookie = landing.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const res = await api('/api/sweeps', { headers: { Cookie: cookie.split(';')[0] } });
    expect(res.status).toBe(200);
    expect((await api('/?token=nope', { redirect: 'manual' })).status).toBe(401);
  });

  it('refuses the live WebSocket without the token', async () => {
    const status = await new Promise<number>((done) => {
      const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api/live`);
      ws.on('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
      ws.on('open', () => done(101));
    });
    expect(status).toBe(401);
    const hello = await new Promise<string>((done, fail) => {
      const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api/live`, { headers: bearer() });
      ws.on('message', (m) => {
        done(wsText(m));
        ws.close();
      });
      ws.on('error', fail);
    });
    expect(JSON.parse(hello)).toEqual({ type: 'hello' });
  });

  it('validates request bodies at the edge with clear 400s', async () => {
    const post = (path: string, body: string) => api(path, { method: 'POST', headers: { ...bearer(), 'Content-Type': 'application/json' }, body });
    // this server is read-only, so a POST that reads (the sweep preview) carries the checks; writes answer 405
    const notJson = await post('/api/sweeps/preview', '{oops');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toBe('request body is not valid JSON');
    const wrongShape = await post('/api/sweeps/preview', JSON.stringify({ spec: 5 }));
    expect(wrongShape.status).toBe(400);
    const badSpec = await post('/api/sweeps/preview', JSON.stringify({ spec: { name: 'x', base: { dataset: 'synthetic' }, grid: { lr: [-1] } } }));
    expect(badSpec.status).toBe(200);
    expect(((await badSpec.json()) as { ok: false; problems: string[] }).problems.join('\n')).toContain('grid.lr[0]');
    expect((await post('/api/sweeps', '{oops')).status).toBe(405);
    expect((await api('/api/runs/abc', { headers: bearer() })).status).toBe(400);
    expect((await api('/api/runs/99999', { headers: bearer() })).status).toBe(404);
    expect((await api('/api/runs', { method: 'POST', headers: bearer() })).status).toBe(405);
  });

  it('sends the strict Content-Security-Policy with the app', async () => {
    const res = await api('/');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<div id="app">');
  });
});

describe('normlab serve: pages', () => {
  beforeAll(async () => {
    await page.goto(serve.url);
    await page.waitForURL(`${serve.origin}/#/runs`);
  });

  it('queue: lists the stored runs with results, the failed one with its reason', async () => {
    await page.getByRole('table', { name: 'Runs' }).waitFor();
    await expect.poll(() => page.locator('table[aria-label="Runs"] tbody tr').count()).toBe(fixture.runIds.length + 2);
    expect(await page.getByText('test top-1 80.50 % (best 80.90)').count()).toBe(1);
    expect(await page.getByText('worker process exited with code 1 before finishing').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: `Retry run ${fixture.failedRunId}` }).isVisible()).toBe(true);
    await shot('runs');
  });

  it('run detail: config, curves, checkpoints and log', async () => {
    await page.getByRole('link', { name: String(fixture.runIds[0]), exact: true }).click();
    await page.getByRole('heading', { name: /Run 1 · knresnet18/ }).waitFor();
    await page.getByRole('img', { name: 'Accuracy chart' }).waitFor();
    // the config as a table of the fields that apply: a KN run shows its model and no GroupNorm groups
    await page.locator('[data-testid="run-config"] [data-field="model"]').waitFor();
    expect(await page.locator('[data-testid="run-config"] [data-field="model"]').textContent()).toContain('knresnet18');
    await expect.poll(() => page.locator('[data-testid="run-config"] [data-field="groups"]').count(), { timeout: 15_000 }).toBe(0);
    expect(await page.getByText('/tmp/ckpt/run-1/epoch-3').isVisible()).toBe(true);
    expect(await page.getByText('fixture run 1 trained').isVisible()).toBe(true);
    await shot('run-detail');
  });

  it('compare: mean ± SD per group, sortable, and the paper table', async () => {
    await page.getByRole('link', { name: 'Compare' }).click();
    const table = page.getByRole('table', { name: 'Comparison of configurations' });
    await table.waitFor();
    const firstModel = () => table.locator('tbody tr').first().locator('td.mono').textContent();
    expect(await firstModel()).toBe('knresnet18');
    expect(await table.locator('tbody tr').first().locator('td[data-col="final"]').textContent()).toBe('81.00 ± 0.50');
    await table.getByRole('button', { name: /Final test top-1/ }).click();
    expect(await firstModel()).toBe('resnet18_ln');
    const md = await page.getByTestId('paper-table').textContent();
    expect(md).toContain('| KNResNet-18 (KN) | **81.00 ± 0.50** | **79.00 ± 0.50** |');
    await page.getByLabel('Format').selectOption('latex');
    expect(await page.getByTestId('paper-table').textContent()).toContain('\\textbf{81.00 $\\pm$ 0.50}');
    await shot('compare');
  });

  it('kernel statistics: KN layer heatmaps next to a BN run', async () => {
    await page.getByRole('link', { name: 'Kernel statistics' }).click();
    await page.getByText(/KernelNorm \(per window\) · 3 samples/).waitFor();
    await page.getByText(/BatchNorm \(per channel\) · 3 samples/).waitFor();
    // means and SDs, for each of the two runs
    expect(await page.locator('.heatmap').count()).toBe(4);
    expect(await page.locator('.heatmap canvas').count()).toBeGreaterThanOrEqual(4);
    await shot('kernel-stats');
  });

  it('sweep builder: models from the registry, live run count', async () => {
    await page.getByRole('link', { name: 'New sweep' }).click();
    await page.getByRole('button', { name: 'KN vs BN/GN/LN, depth 18' }).click();
    await page.getByLabel('Batch sizes').fill('32, 128');
    await expect.poll(() => page.getByTestId('run-count').textContent()).toMatch(/^24 runs/);
    await page.getByLabel('Batch sizes').fill('32, x');
    await page.getByText('"x" is not a number').waitFor();
    await shot('sweep-builder');
  });

  it('export: downloads the aggregates as CSV', async () => {
    await page.getByRole('link', { name: 'Export' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('button[data-export="aggregates"]').click()]);
    const file = join(dir, 'aggregates.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^group_key,model,dataset,lr,batch_size/);
    expect(lines).toHaveLength(1 + FIXTURE_MODELS.length * FIXTURE_BATCHES.length + 2);
    await shot('export');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
