import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinySweep } from '../main/scheduler/helpers';
import { assembleBuiltFolder, buildInto, filesUnder, LEFT_OUT_PACKAGES } from './built-folder';

/**
 * The build, run the way it ships: `npm run build` into a temp folder that holds only package.json, bin/, out/ and
 * node_modules without tsx or esbuild, so nothing can run TypeScript there. The CLI, a sweep's worker process and
 * the doctor's probe processes must all start from out/main.
 */
let base: string;
let app: string;
let buildMs: number;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function normlab(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(cwd, 'bin', 'normlab.mjs'), ...args], {
      cwd,
      env: { ...process.env, XDG_CACHE_HOME: join(base, 'cache'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'normlab-built-'));
  app = join(base, 'app');
  mkdirSync(app);
  buildMs = await buildInto(join(app, 'out'));
  assembleBuiltFolder(app);
}, 240_000);

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('puts Electron main, the CLI, its commands and every forked entry under out/main', () => {
    const main = readdirSync(join(app, 'out', 'main'));
    for (const file of ['index.js', 'cli.js', 'worker.js', 'batch-worker.js', 'probe-child.js', 'core-process.js']) expect(main, file).toContain(file);
    expect(readdirSync(join(app, 'out', 'main', 'commands'))).toEqual(expect.arrayContaining(['train.js', 'sweep.js', 'serve.js', 'doctor.js', 'models.js']));
    expect(existsSync(join(app, 'out', 'preload', 'index.cjs'))).toBe(true);
    expect(existsSync(join(app, 'out', 'renderer', 'index.html'))).toBe(true);
    expect(buildMs).toBeGreaterThan(0);
  });

  it('leaves npm packages external and bundles no Vite (the renderer is built beforehand, not at run time)', () => {
    const js = filesUnder(join(app, 'out', 'main')).map((f) => readFileSync(join(app, 'out', 'main', f), 'utf8')).join('\n');
    expect(js).toMatch(/from "@tensorflow\/tfjs"/);
    expect(js).toMatch(/from "better-sqlite3"/);
    expect(js).not.toMatch(/from "vite"|import\("vite"\)|@vitejs\/plugin-vue/);
    // tfjs alone is several MiB of JavaScript: our own code is well under that only while packages stay out
    expect(js.length).toBeLessThan(2 * 2 ** 20);
  });

  it('every module under out/main parses, index.js (Electron main, which cannot start here) included', async () => {
    // a module's own `const require` beside electron-vite's CommonJS shim once made out/main/index.js a SyntaxError
    const script = `const vm = require('node:vm'), fs = require('node:fs');
      const bad = [];
      for (const f of JSON.parse(process.argv[1])) {
        try { new vm.SourceTextModule(fs.readFileSync(f, 'utf8'), { identifier: f }); } catch (e) { bad.push(f + ': ' + e.message); }
      }
      process.stdout.write(JSON.stringify(bad));`;
    const files = filesUnder(join(app, 'out', 'main')).filter((f) => f.endsWith('.js')).map((f) => join(app, 'out', 'main', f));
    expect(files.length).toBeGreaterThan(20);
    const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', script, JSON.stringify(files)]);
    expect(JSON.parse(stdout)).toEqual([]);
  });

  it('the temp folder holds only package.json, bin/, out/ and node_modules, no TypeScript, and cannot resolve tsx', () => {
    expect(readdirSync(app).sort()).toEqual(['bin', 'node_modules', 'out', 'package.json']);
    const files = filesUnder(app);
    expect(files.filter((f) => /\.(c|m)?tsx?$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('out/main/')).length).toBeGreaterThan(10);
    const modules = readdirSync(join(app, 'node_modules'));
    for (const name of LEFT_OUT_PACKAGES) expect(modules).not.toContain(name);
    expect(() => createRequire(join(app, 'package.json')).resolve('tsx')).toThrow(/Cannot find module 'tsx'/);
  });
});

describe('the built CLI, without tsx', () => {
  it('normlab train --json trains in the CLI process and ends finished (exit 0)', async () => {
    const r = await normlab(app, ['train', '--model', 'cnn', '--dataset', 'synthetic', '--synthetic-train-size', '256', '--synthetic-test-size', '64',
      '--batch-size', '32', '--backend', 'wasm', '--epochs', '1', '--lr', '0.05', '--seed', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    expect(events[0]).toMatchObject({ event: 'started', backend: 'wasm' });
    expect(events.filter((e) => e.event === 'epoch')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'done', status: 'finished' });
  });

  it('normlab sweep runs each run in a worker process forked from out/main/worker.js', async () => {
    const spec = join(base, 'spec.json');
    writeFileSync(spec, JSON.stringify(tinySweep('built')));
    const r = await normlab(app, ['sweep', spec, '--db', join(base, 'sweep.db'), '--workers', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    // `started` and `epoch` carry a runId: the worker sent them over its IPC channel
    const started = events.filter((e) => e.event === 'started');
    expect(started.map((e) => e.runId)).toEqual([1]);
    expect(started.every((e) => typeof e.numParams === 'number' && e.numParams > 0)).toBe(true);
    expect(events.filter((e) => e.event === 'epoch' && e.runId === 1)).toHaveLength(1);
    expect(events.filter((e) => e.event === 'run_ended').map((e) => e.status)).toEqual(['finished']);
    expect(events.at(-1)).toMatchObject({ event: 'sweep_done', allFinished: true });
  });

  it('normlab doctor runs its probes in processes started from out/main/probe-child.js', async () => {
    const r = await normlab(app, ['doctor', '--json', '--no-bench']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { wasm: { ok: boolean; simd: boolean }; webgpu: { probed: boolean } };
    // the wasm probe loads tfjs-backend-wasm in the child and reports over IPC; a child that failed to start reads `ok: false`
    expect(report.wasm).toMatchObject({ ok: true, simd: true });
    expect(report.webgpu.probed).toBe(true);
  });

  it('normlab serve serves out/renderer; without it, it refuses and names `npm run build`', async () => {
    const db = join(base, 'sweep.db');
    const child = spawn(process.execPath, [join(app, 'bin', 'normlab.mjs'), 'serve', '--port', '0', '--db', db, '--no-scheduler'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /http:\/\/\S+\?token=\S+/.exec(out);
          if (m) resolve(m[0]);
        });
        child.once('exit', (code) => reject(new Error(`normlab serve exited (${code}) before printing its URL:\n${err}`)));
      });
      const landing = await fetch(url, { redirect: 'manual' });
      expect(landing.status).toBe(302);
      const cookie = landing.headers.get('set-cookie')?.split(';')[0] ?? '';
      const page = await fetch(new URL('/', url), { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(join(app, 'out', 'renderer', 'index.html'), 'utf8'));
    } finally {
      child.kill('SIGKILL');
    }

    const renderer = join(app, 'out', 'renderer');
    renameSync(renderer, `${renderer}.away`);
    try {
      const r = await normlab(app, ['serve', '--port', '0', '--db', db, '--no-scheduler']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the user interface is not built: ${renderer} has no index.html; run \`npm run build\``);
    } finally {
      renameSync(`${renderer}.away`, renderer);
    }
  });
});

describe('the built batch worker (a Slurm job runs it with plain node)', () => {
  it('starts from out/main/batch-worker.js and refuses a call without --run as a bad request (exit 2)', async () => {
    const r = await new Promise<Result>((resolve, reject) => {
      const child = spawn(process.execPath, [join(app, 'out', 'main', 'batch-worker.js')], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^normlab batch worker: /);
  });
});

describe('bin/normlab.mjs in a checkout', () => {
  // a checkout without tsx: src-main/ beside bin/ makes it one, and its one source file is newer than the build
  let checkout: string;
  beforeAll(() => {
    checkout = join(base, 'checkout');
    mkdirSync(join(checkout, 'src-main', 'cli'), { recursive: true });
    cpSync(join(app, 'bin'), join(checkout, 'bin'), { recursive: true });
    cpSync(join(app, 'package.json'), join(checkout, 'package.json'));
    symlinkSync(join(app, 'out'), join(checkout, 'out'));
    symlinkSync(join(app, 'node_modules'), join(checkout, 'node_modules'));
    const edited = join(checkout, 'src-main', 'cli', 'main.ts');
    writeFileSync(edited, '// edited after the build\n');
    const later = new Date(Date.now() + 60_000);
    utimesSync(edited, later, later);
  });

  it('runs the build when tsx is absent, and says which source is newer than it', async () => {
    const r = await normlab(checkout, ['models', 'cnn', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ name: 'cnn' })]);
    expect(r.stderr).toContain('warning: src-main/cli/main.ts is newer than the build in out/; run `npm run build` to include it');
  });

  it('NORMLAB_BUILT=0 asks for the sources, and fails naming tsx when it is not installed', async () => {
    const r = await normlab(checkout, ['models'], { NORMLAB_BUILT: '0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/NORMLAB_BUILT=0 runs the TypeScript sources, which needs tsx/);
  });

  it('refuses an unknown NORMLAB_BUILT value by name', async () => {
    const r = await normlab(checkout, ['models'], { NORMLAB_BUILT: 'yes' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NORMLAB_BUILT must be 1 (run the build) or 0 (run the sources), got "yes"');
  });
});
