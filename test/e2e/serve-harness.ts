import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import type { RawData } from 'ws';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const RESULTS_DIR = join(ROOT, 'test-results');

/** A WebSocket message as text, whichever of ws's buffer shapes it arrived in. */
export function wsText(m: RawData): string {
  if (Array.isArray(m)) return Buffer.concat(m).toString('utf8');
  return Buffer.from(m as ArrayBuffer).toString('utf8');
}

/** `electron-vite build`: main, preload and renderer into out/ (what `npm start` and `normlab serve` use). */
export async function buildApp(): Promise<void> {
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'electron-vite'), ['build'], { cwd: ROOT, timeout: 120_000 });
}

/**
 * The renderer alone, into a folder of the test's own: `electron-vite build` (serve.test.ts) empties out/ while
 * it runs, which must not pull the assets from under a page another test file has open.
 */
export async function buildRendererInto(outDir: string): Promise<string> {
  const { buildRendererInto: build } = await import('../../src-renderer/vite.renderer.config');
  return build(ROOT, outDir);
}

export interface ServeProcess {
  url: string;
  origin: string;
  token: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `normlab serve` as a user would (bin/normlab.mjs) and reads the URL it prints. */
export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'normlab.mjs'), 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`normlab serve printed no URL within 60 s:\n${err}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/\S+\?token=\S+/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[0]);
      }
    });
    child.once('exit', (code) => fail(new Error(`normlab serve exited (${code}):\n${err}`)));
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token')!,
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function launchChromium(): Promise<Browser> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}
