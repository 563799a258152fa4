import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../../src-worker/pid-alive';
import { tempDir, tinySweep, waitFor } from '../main/scheduler/helpers';

export const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');

/** A sweep of `kn_cnn` runs small enough for seconds per epoch, with norm statistics every other step. */
export function crashSweep(name: string, opts: { epochs?: number; seeds?: number[] } = {}) {
  const sweep = tinySweep(name, { models: ['kn_cnn'], epochs: opts.epochs ?? 2, seeds: opts.seeds ?? [1] });
  return { ...sweep, base: { ...sweep.base, statsEvery: 2 } };
}

export interface SweepSetup {
  dir: string;
  specFile: string;
  db: string;
}

export function sweepSetup(prefix: string, spec: unknown): SweepSetup {
  const dir = tempDir(prefix);
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  return { dir, specFile, db: join(dir, 'normlab.db') };
}

export function sweepArgs(s: SweepSetup, extra: string[] = []): string[] {
  return [BIN, 'sweep', s.specFile, '--db', s.db, '--workers', '1', '--json', ...extra];
}

export interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `normlab sweep` in the background; `detached` gives it its own process group, as a terminal would. */
export function startSweep(s: SweepSetup, opts: { env?: NodeJS.ProcessEnv; detached?: boolean; extra?: string[] } = {}): Started {
  const child = spawn(process.execPath, sweepArgs(s, opts.extra), {
    env: { ...process.env, ...opts.env },
    detached: opts.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

export function runSweep(s: SweepSetup, extra: string[] = []) {
  return spawnSync(process.execPath, sweepArgs(s, extra), { encoding: 'utf8', timeout: 240_000 });
}

/** Starts a sweep whose worker holds at `phase` of `epoch` (see src-worker/train/fault-points.ts); returns the worker pid. */
export async function sweepHeldAt(s: SweepSetup, phase: string, epoch: number, opts: { detached?: boolean } = {}): Promise<Started & { workerPid: number }> {
  const marker = join(s.dir, `fault-${phase}-${epoch}`);
  const started = startSweep(s, { env: { NORMLAB_FAULT_AT: `${phase}:${epoch}`, NORMLAB_FAULT_MARKER: marker }, detached: opts.detached });
  await waitFor(() => existsSync(marker) && readFileSync(marker, 'utf8').includes('\n'), 90_000, `the worker to reach ${phase}:${epoch}`);
  return { ...started, workerPid: Number(readFileSync(marker, 'utf8').split(' ')[0]) };
}

export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function waitForExit(pid: number, timeoutMs: number, what: string): Promise<void> {
  await waitFor(() => !pidAlive(pid), timeoutMs, what);
}
