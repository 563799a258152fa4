import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormStatsRecord, RunRecord } from '../../src-main/store/types';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from './serve-harness';

/**
 * A KN run and a BN run (1/16 width, 1 epoch on a small synthetic set, statistics every 2 steps) trained by
 * `normlab serve`'s own worker processes, then the kernel-statistics overview in Chromium: one panel per norm
 * layer of each run, numbered colour bars and strips, the unit of each run's shares, and side by side.
 */
let dir: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let kn: RunRecord;
let bn: RunRecord;
let layers: Map<number, { layer: string; kind: string }[]>;

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${serve.origin}${path}`, {
    ...init, headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const shot = (name: string) => page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-kstats-e2e-'));
  const ui = await buildRendererInto(join(dir, 'renderer'));
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--workers', '2', '--static-dir', ui]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await api('/api/sweeps', {
    method: 'POST',
    body: JSON.stringify({
      spec: {
        name: 'kstats-e2e',
        base: { dataset: 'synthetic', syntheticTrainSize: 64, syntheticTestSize: 16, epochs: 1, batchSize: 8, lr: 0.05, width: 0.0625, statsEvery: 2, backend: 'wasm' },
        grid: { model: ['knresnet18', 'resnet18_bn'] },
      },
    }),
  });
  const deadline = Date.now() + 240_000;
  let runs: RunRecord[] = [];
  while (Date.now() < deadline) {
    runs = await api<RunRecord[]>('/api/runs');
    if (runs.length === 2 && runs.every((r) => r.status === 'finished')) break;
    if (runs.some((r) => r.status === 'failed')) throw new Error(`a run failed: ${JSON.stringify(runs.map((r) => [r.model, r.errorReason]))}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(runs.map((r) => r.status)).toEqual(['finished', 'finished']);
  kn = runs.find((r) => r.model === 'knresnet18')!;
  bn = runs.find((r) => r.model === 'resnet18_bn')!;
  layers = new Map();
  for (const r of runs) layers.set(r.id, await api(`/api/runs/${r.id}/norm-layers`));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The overview of the run alone ("Next to: none"). */
async function openAlone(run: RunRecord): Promise<void> {
  await page.goto(`${serve.url}#/kernel-stats?run=${run.id}`);
  await page.getByLabel('Next to').selectOption({ label: 'none' });
  await page.getByTestId(`overview-run-${run.id}`).waitFor();
  await expect.poll(() => page.locator('[data-testid^="overview-run-"]').count()).toBe(1);
}

async function expectNumberedOverview(run: RunRecord, unit: string): Promise<void> {
  const column = page.getByTestId(`overview-run-${run.id}`);
  const expected = layers.get(run.id) ?? [];
  expect(expected.length).toBeGreaterThan(3);
  const panels = column.getByTestId('layer-panel');
  expect(await panels.count()).toBe(expected.length);
  // one panel per layer, in the order of the forward pass
  expect(await panels.evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')))).toEqual(expected.map((l) => l.layer));
  // the colour bar has numbers: at least 0 % and one more percentage
  const barTicks = await page.getByTestId('colour-bar').first().locator('text.tick').allTextContents();
  expect(barTicks[0]).toBe('0 %');
  expect(barTicks.length).toBeGreaterThanOrEqual(3);
  for (const t of barTicks) expect(t).toMatch(/^\d+(\.\d+)? %$/);
  // every panel: two strips with numeric ticks, and its near-constant share in the run's unit
  for (let i = 0; i < expected.length; i++) {
    const ticks = await panels.nth(i).locator('svg.strips text.tick').allTextContents();
    expect(ticks.length, expected[i].layer).toBeGreaterThanOrEqual(4);
    for (const t of ticks) expect(Number.isFinite(Number(t)), `tick "${t}" of ${expected[i].layer}`).toBe(true);
    expect(await panels.nth(i).locator('.flat-value').textContent()).toMatch(new RegExp(`^\\d+(\\.\\d+)? % of ${unit} near-constant$`));
  }
  // cell tooltips say what is counted
  const title = await panels.first().locator('svg.strips rect title').first().textContent();
  expect(title).toMatch(new RegExp(`% of ${unit}$`));
}

describe('kernel statistics overview with real workers', () => {
  it('the KN run: one panel per KernelNorm layer, shares of windows', async () => {
    const stats = await api<NormStatsRecord[]>(`/api/runs/${kn.id}/norm-stats`);
    expect(stats.every((s) => s.std.nearConstant?.unit === 'windows' && s.std.nearConstant.eps === 1e-5)).toBe(true);
    await openAlone(kn);
    await expectNumberedOverview(kn, 'windows');
    await shot('kernel-stats-overview-kn');
  });

  it('the BN run: one panel per BatchNorm layer, shares of channels', async () => {
    await openAlone(bn);
    await expectNumberedOverview(bn, 'channels');
    await shot('kernel-stats-overview-bn');
  });

  it('side by side: the BN run is picked next to the KN run, layers paired by depth on shared scales', async () => {
    await page.goto(`${serve.url}#/kernel-stats?run=${kn.id}`);
    await page.getByTestId(`overview-run-${bn.id}`).waitFor();
    expect(await page.getByTestId(`overview-run-${kn.id}`).getByTestId('layer-panel').count()).toBe(layers.get(kn.id)?.length);
    expect(await page.getByTestId(`overview-run-${bn.id}`).getByTestId('layer-panel').count()).toBe(layers.get(bn.id)?.length);
    // the last KN layer, clicked: its evolution next to the BN run's last layer (same normalized depth)
    const knLayers = layers.get(kn.id) ?? [];
    const bnLayers = layers.get(bn.id) ?? [];
    await page.getByTestId(`overview-run-${kn.id}`).getByTestId('layer-panel').last().click();
    const evolution = page.locator('section.evolution');
    await expect.poll(() => evolution.count()).toBe(2);
    expect(await evolution.nth(0).getAttribute('aria-label')).toBe(`evolution of ${knLayers.at(-1)?.layer} in run ${kn.id}`);
    expect(await evolution.nth(1).getAttribute('aria-label')).toBe(`evolution of ${bnLayers.at(-1)?.layer} in run ${bn.id}`);
    expect(await page.locator('.heatmap canvas').count()).toBeGreaterThanOrEqual(4);
    // shared colour scale: the four heatmaps' colour bars carry the same numbers
    const bars = await evolution.getByTestId('colour-bar').evaluateAll((els) => els.map((e) => [...e.querySelectorAll('text.tick')].map((t) => t.textContent).join(' ')));
    expect(bars).toHaveLength(4);
    expect(new Set(bars).size).toBe(1);
    // a chosen step: the slider's first position shows step 0 on every panel
    await page.getByRole('slider', { name: 'Step' }).fill('0');
    await expect.poll(() => page.getByTestId('chosen-step').textContent()).toBe('0');
    expect(new Set(await page.getByTestId('layer-panel').locator('header .step').allTextContents())).toEqual(new Set(['step 0']));
    await page.getByRole('button', { name: 'Latest' }).click();
    await shot('kernel-stats-side-by-side');
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
