import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { spec, tempDir } from '../main/store/helpers';

const BIN = join(import.meta.dirname, '../../bin/normlab.mjs');
const tmp = tempDir('export-ro');
const NOBODY = '65534';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(command: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs `normlab` so that `dir` is read-only to it. chmod is enough for an ordinary user, but root writes through
 * file modes (and tests here and in CI run as root), so root uses a read-only bind mount in a private mount
 * namespace (gone when the process exits) where it may, or else runs the CLI as nobody under setpriv.
 */
interface ReadOnlyRunner {
  how: string;
  run(dir: string, args: string[]): Promise<CliResult>;
}

function pickRunner(): ReadOnlyRunner {
  const chmodRunner = (how: string, prefix: string[]): ReadOnlyRunner => ({
    how,
    run: (dir, args) => {
      chmodSync(dir, 0o555);
      const [command, ...rest] = [...prefix, process.execPath, BIN, ...args];
      return collect(command, rest);
    },
  });
  if (process.getuid?.() !== 0) return chmodRunner('chmod 555 (not root)', []);

  const probe = join(tmp.dir, 'probe');
  mkdirSync(probe);
  const mountScript = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
  const mounted = spawnSync('unshare', ['-m', 'sh', '-c', mountScript, 'sh', probe, 'sh', '-c', `! touch "${probe}/x" 2>/dev/null`]);
  if (mounted.status === 0) {
    return {
      how: 'read-only bind mount (root, unshare -m)',
      run: (dir, args) => collect('unshare', ['-m', 'sh', '-c', mountScript, 'sh', dir, process.execPath, BIN, ...args]),
    };
  }
  const setpriv = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
  const asNobody = spawnSync(setpriv[0], [...setpriv.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`]);
  if (asNobody.status === 0) return chmodRunner('chmod 555 and setpriv to nobody (root without mount namespaces)', setpriv);
  throw new Error(
    'cannot make a folder read-only to a child process here: running as root, `unshare -m` + `mount -o remount,bind,ro` ' +
      `failed (${mounted.stderr.toString().trim() || mounted.error?.message}), and nobody cannot run ${BIN} under setpriv ` +
      `(${asNobody.stderr.toString().trim() || asNobody.error?.message})`,
  );
}

let runner: ReadOnlyRunner;
beforeAll(() => {
  // mkdtemp makes 0700 folders; nobody (one of the runners) needs to reach the stores inside
  chmodSync(tmp.dir, 0o755);
  runner = pickRunner();
});
afterAll(() => {
  for (const name of readdirSync(tmp.dir)) chmodSync(join(tmp.dir, name), 0o755);
  tmp.cleanup();
});

type Row = Record<string, string>;
const readCsv = (text: string): Row[] => parse<Row>(text, { columns: true });

/** A closed store in a folder of its own, with one sweep of `seeds` runs, the last one finished. */
function makeStore(name: string, seeds: number[]): { dir: string; file: string } {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { mode: 0o755 });
  const file = join(dir, 'store.db');
  const store = ExperimentStore.open(file);
  const { sweep } = store.upsertSweep({ name: 'closed', spec: {} });
  const ids = store.addRuns(sweep.id, seeds.map((seed) => spec({ seed }))).runs.map((r) => r.id);
  store.markRunning(ids.at(-1)!, 'cpu');
  store.close();
  return { dir, file };
}

describe('normlab export from a read-only folder', () => {
  it('reads a closed WAL store whose folder it cannot write (no -shm there to create)', async () => {
    const { dir, file } = makeStore('closed', [1, 2]);
    expect(readdirSync(dir)).toEqual(['store.db']);
    chmodSync(file, 0o444);
    const runs = await runner.run(dir, ['export', '--db', file, '--what', 'runs']);
    expect(runs.stderr, runner.how).toBe('');
    expect(runs.code, runner.how).toBe(0);
    expect(readCsv(runs.stdout).map((r) => [r.sweep_name, r.seed, r.status])).toEqual([['closed', '1', 'queued'], ['closed', '2', 'running']]);
    const aggregates = await runner.run(dir, ['export', '--db', file, '--what', 'aggregates', '--sweep', 'closed']);
    expect(aggregates.code, aggregates.stderr).toBe(0);
    expect(readCsv(aggregates.stdout)).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(['store.db']);
  });

  it('still sees a live writer\'s latest commits, in a writable folder and in one read-only to the reader', async () => {
    const { dir, file } = makeStore('live', [1]);
    const writer = ExperimentStore.open(file);
    try {
      const { sweep } = writer.upsertSweep({ name: 'only-in-the-wal', spec: {} });
      writer.addRuns(sweep.id, [spec({ seed: 7 })]);
      // the commit is in the write-ahead log only: a reader of the main file alone (immutable) would miss it
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
      const writable = await collect(process.execPath, [BIN, 'export', '--db', file, '--what', 'runs', '--sweep', 'only-in-the-wal']);
      expect(writable.code, writable.stderr).toBe(0);
      expect(readCsv(writable.stdout).map((r) => r.seed)).toEqual(['7']);
      const readOnly = await runner.run(dir, ['export', '--db', file, '--what', 'runs', '--sweep', 'only-in-the-wal']);
      expect(readOnly.code, `${runner.how}: ${readOnly.stderr}`).toBe(0);
      expect(readCsv(readOnly.stdout).map((r) => r.seed)).toEqual(['7']);
    } finally {
      chmodSync(dir, 0o755);
      writer.close();
    }
  });

  it('refuses, naming the -wal file, when the read-only folder holds log frames it cannot read without -shm', async () => {
    const { file } = makeStore('source', [1]);
    const dir = join(tmp.dir, 'stranded-wal');
    mkdirSync(dir, { mode: 0o755 });
    const copy = join(dir, 'store.db');
    const writer = new Database(file);
    writer.pragma('wal_autocheckpoint = 0');
    writer.prepare(`UPDATE sweeps SET priority = 3`).run();
    // what a crashed writer leaves when its -shm is lost: the main file and a log with commits in it
    copyFileSync(file, copy);
    copyFileSync(`${file}-wal`, `${copy}-wal`);
    writer.close();
    const r = await runner.run(dir, ['export', '--db', copy, '--what', 'runs']);
    expect(r.code, runner.how).toBe(1);
    expect(r.stderr).toContain(`cannot open experiment store ${copy}: its folder is read-only and ${copy}-wal holds commits not yet copied`);
  });
});
