import { closeSync, openSync, readFileSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { pidAlive } from '../pid-alive';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from './checkpoint';

/**
 * One worker per run folder. A worker whose parent was killed keeps going until its next batch boundary, where
 * it checkpoints and leaves; the worker that resumes the run must not start before that, or both would write
 * the same checkpoints and journal. The lock file names its holder; a holder that is gone (a dead pid on this
 * host) is stale, and a live one is waited for.
 */
export const LOCK_FILE = 'worker.lock';

interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

function readHolder(path: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return null; // unreadable or half-written (its writer died between create and write): stale
  }
}

export interface RunLockOptions {
  /** How long to wait for a live holder to leave (default 120 s). */
  waitMs?: number;
  /** Told once when a live holder makes this worker wait. */
  onWait?: (holder: LockHolder) => void;
}

/** Takes the folder's lock, waiting for a live holder on this host; returns the release function. */
export async function acquireRunLock(dir: string, opts: RunLockOptions = {}): Promise<() => void> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const deadline = Date.now() + (opts.waitMs ?? 120_000);
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return () => {
        if (readHolder(path)?.pid === me.pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(path);
    // another host's pid cannot be checked from here; a run moved to another node left that lock behind
    const live = holder !== null && holder.pid !== me.pid && holder.host === me.host && pidAlive(holder.pid);
    if (!live) {
      rmSync(path, { force: true });
      continue;
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new CheckpointError(`run folder ${dir} is in use by worker pid ${holder.pid} (since ${holder.since}), still running after ${opts.waitMs ?? 120_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
