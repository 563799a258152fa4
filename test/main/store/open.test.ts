import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore, MIGRATIONS, StoreOpenError } from '../../../src-main/store';
import { migrate } from '../../../src-main/store/migrations';
import { spec, tempDir } from './helpers';

const tmp = tempDir('store-open');
afterAll(() => tmp.cleanup());

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  const names = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map(
    (r) => r.name,
  );
  db.close();
  return names;
}

describe('opening and migrating', () => {
  it('creates the schema in an empty file, in WAL mode, and re-opens without losing data', () => {
    const file = join(tmp.dir, 'fresh.db');
    const store = ExperimentStore.open(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    store.addRuns(sweep.id, [spec({ seed: 1 })]);
    store.close();

    expect(tables(file)).toEqual(
      expect.arrayContaining(['sweeps', 'runs', 'params', 'metrics', 'latest_metrics', 'norm_stats', 'checkpoints', 'run_logs']),
    );
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();

    const again = ExperimentStore.open(file);
    expect(again.schemaVersion).toBe(MIGRATIONS.length);
    expect(again.listRuns().map((r) => r.seed)).toEqual([1]);
    again.close();
  });

  it('applies only the migrations a file has not seen, keeping its data', () => {
    const file = join(tmp.dir, 'migrate.db');
    const store = ExperimentStore.open(file);
    const { sweep } = store.upsertSweep({ name: 'kept', spec: {} });
    store.addRuns(sweep.id, [spec()]);
    store.close();

    const db = new Database(file);
    const extra = [...MIGRATIONS, `CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)`];
    expect(migrate(db, extra)).toBe(MIGRATIONS.length + 1);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
    // running again must not re-run migration 1 (it would fail: the tables exist)
    expect(() => migrate(db, extra)).not.toThrow();
    expect((db.prepare(`SELECT COUNT(*) AS n FROM runs`).get() as { n: number }).n).toBe(1);
    db.close();

    // this NormLab knows fewer migrations than the file has: refuse rather than guess
    expect(() => ExperimentStore.open(file)).toThrow(/newer than this NormLab understands/);
  });

  it('names the file and the problem for a file of random bytes', () => {
    const file = join(tmp.dir, 'random.db');
    writeFileSync(file, randomBytes(8192));
    let caught: unknown;
    try {
      ExperimentStore.open(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StoreOpenError);
    expect((caught as Error).message).toContain(file);
    expect((caught as Error).message).toMatch(/not an SQLite database/);
  });

  it('names the file and the lock when another connection holds it past the busy timeout', () => {
    const file = join(tmp.dir, 'locked.db');
    const store = ExperimentStore.open(file);
    const { sweep } = store.upsertSweep({ name: 'before-lock', spec: {} });
    store.addRuns(sweep.id, [spec()]);
    store.close();

    const holder = new Database(file);
    holder.exec('BEGIN EXCLUSIVE');
    holder.prepare(`UPDATE sweeps SET priority = 5`).run();
    const started = Date.now();
    expect(() => ExperimentStore.open(file, { busyTimeoutMs: 300 })).toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the database is locked .*300 ms busy timeout`),
    );
    // it waited for the lock instead of failing at once
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    holder.exec('ROLLBACK');
    holder.close();

    const after = ExperimentStore.open(file, { busyTimeoutMs: 300 });
    expect(after.listSweeps().map((s) => [s.name, s.priority, s.totalRuns])).toEqual([['before-lock', 0, 1]]);
    after.close();
  });

  it('refuses read-only opening of a missing file or a file that is not a store', () => {
    const missing = join(tmp.dir, 'missing.db');
    expect(() => ExperimentStore.open(missing, { readonly: true })).toThrow(`${missing}: the file does not exist`);
    const plain = join(tmp.dir, 'plain.db');
    const other = new Database(plain);
    other.exec('CREATE TABLE t (x)');
    other.close();
    expect(() => ExperimentStore.open(plain, { readonly: true })).toThrow(/not a NormLab experiment store/);
  });
});
