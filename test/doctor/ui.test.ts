import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src-main/server/routes';
import { buildRendererInto, launchChromium, RESULTS_DIR, startServe, type ServeProcess } from '../e2e/serve-harness';
import { SWIFTSHADER_ENV } from './fixtures';

/** The devices panel's Diagnose button against `normlab serve`: the doctor's report through the API, in the page. */
let dir: string;
let serve: ServeProcess;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-doctor-ui-'));
  const ui = await buildRendererInto(join(dir, 'renderer'));
  // the server (and the doctor's probes it starts) inherit this: Dawn finds SwiftShader
  Object.assign(process.env, SWIFTSHADER_ENV);
  serve = await startServe(['--db', join(dir, 'normlab.db'), '--workers', '1', '--static-dir', ui]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Diagnose in the devices panel', () => {
  it('reads `bench` from a query string and from IPC arguments', () => {
    const input = apiRoutes.doctor.input;
    expect(apiRoutes.doctor.toArgs(input.parse({ bench: 'true' }))).toEqual([{ bench: true }]);
    expect(apiRoutes.doctor.toArgs(input.parse({ bench: false }))).toEqual([{ bench: false }]);
    expect(apiRoutes.doctor.toArgs(input.parse({}))).toEqual([{}]);
    expect(input.safeParse({ bench: 'yes' }).success).toBe(false);
  });

  it('shows the report: summary, no GPU, native packages, SwiftShader, wasm SIMD', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(serve.url);
    await page.getByTestId('doctor-run').click();
    const summary = page.getByTestId('doctor-summary');
    await summary.waitFor({ timeout: 60_000 });
    expect(await summary.getAttribute('title')).toMatch(/^--backend auto will pick wasm: /);
    expect(await summary.textContent()).toMatch(/^\s*--backend auto → wasm wasm \(SIMD, 1 thread\) is the fastest that works/);
    expect(await page.getByTestId('doctor-native').textContent()).toMatch(/@tensorflow\/tfjs-node-gpu\s*not installed/);
    expect(await page.getByTestId('doctor-webgpu').textContent()).toMatch(/SwiftShader.*software/);
    expect(await page.getByTestId('doctor-wasm').textContent()).toContain('SIMD yes, 1 thread');
    await page.locator('section[aria-labelledby="devices-title"]').screenshot({ path: join(RESULTS_DIR, 'doctor-devices-panel.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
