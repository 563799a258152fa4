import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore, MIGRATIONS, StoreOpenError } from '../../../src-main/store';
import { NORMLAB_APPLICATION_ID } from '../../../src-main/store/connection';
import { spec, tempDir } from './helpers';

const tmp = tempDir('store-foreign');
afterAll(() => tmp.cleanup());

/** Some other program's database: its own tables and data, maybe its own application_id and user_version. */
function foreignDb(name: string, opts: { applicationId?: number; userVersion?: number; tables?: string[] } = {}): string {
  const file = join(tmp.dir, name);
  const db = new Database(file);
  for (const table of opts.tables ?? ['users', 'orders']) db.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, note TEXT)`);
  db.exec(`CREATE INDEX ${(opts.tables ?? ['users'])[0]}_note ON ${(opts.tables ?? ['users'])[0]} (note)`);
  if (opts.applicationId !== undefined) db.pragma(`application_id = ${opts.applicationId}`);
  if (opts.userVersion !== undefined) db.pragma(`user_version = ${opts.userVersion}`);
  db.close();
  return file;
}

function openError(file: string, readonly: boolean): StoreOpenError {
  try {
    ExperimentStore.open(file, { readonly }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreOpenError);
    return error as StoreOpenError;
  }
  throw new Error(`opening ${file} (readonly ${readonly}) did not fail`);
}

function header(file: string): { applicationId: number; userVersion: number; journalMode: string; tables: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      applicationId: db.pragma('application_id', { simple: true }) as number,
      userVersion: db.pragma('user_version', { simple: true }) as number,
      journalMode: db.pragma('journal_mode', { simple: true }) as string,
      tables: (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name),
    };
  } finally {
    db.close();
  }
}

describe('a file that is not a NormLab store', () => {
  it('is refused, naming its tables, and left exactly as it was (no NormLab tables, no WAL switch)', () => {
    const file = foreignDb('other-app.db', { tables: ['users', 'orders', 'invoices', 'items', 'payments', 'refunds'] });
    const before = readFileSync(file);
    for (const readonly of [false, true]) {
      const error = openError(file, readonly);
      expect(error.file).toBe(file);
      expect(error.message).toBe(
        `cannot open experiment store ${file}: it is not a NormLab experiment store: it has no NormLab marker and holds ` +
          'tables of some other program: invoices, items, orders, payments, refunds, … (7 in all); pass a new file or an existing NormLab store',
      );
    }
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(header(file)).toMatchObject({ applicationId: 0, journalMode: 'delete' });
  });

  it('is refused when another application has stamped it, even if it has tables called runs and sweeps', () => {
    // GeoPackage's id, "GPKG"
    const file = foreignDb('geo.gpkg', { applicationId: 0x47504b47, userVersion: 10200, tables: ['runs', 'sweeps', 'metrics'] });
    for (const readonly of [false, true]) {
      expect(openError(file, readonly).message).toBe(
        `cannot open experiment store ${file}: it is not a NormLab experiment store: it belongs to another application ` +
          '(application_id 0x47504b47, "GPKG")',
      );
    }
    const negative = foreignDb('negative-id.db', { applicationId: -2 });
    expect(openError(negative, false).message).toMatch(/another application \(application_id 0xfffffffe\)$/);
    expect(header(file).tables).toEqual(['metrics', 'runs', 'sweeps']);
  });

  it('is refused when it uses user_version for its own schema', () => {
    const file = foreignDb('versioned.db', { userVersion: 3, tables: ['runs'] });
    expect(openError(file, false).message).toMatch(/no NormLab marker and holds tables of some other program: runs, runs_note \(index\)/);
    expect(header(file).tables).toEqual(['runs']);
  });
});

describe('the NormLab marker', () => {
  it('is set on a new store, and a marked store re-opens read-write and read-only', () => {
    const file = join(tmp.dir, 'new.db');
    const store = ExperimentStore.open(file);
    store.upsertSweep({ name: 's', spec: {} });
    store.close();
    expect(header(file)).toMatchObject({ applicationId: NORMLAB_APPLICATION_ID, userVersion: MIGRATIONS.length });
    expect(Buffer.from(readFileSync(file).subarray(68, 72)).toString('ascii')).toBe('NLab');
    ExperimentStore.open(file).close();
    const reader = ExperimentStore.open(file, { readonly: true });
    expect(reader.listSweeps().map((s) => s.name)).toEqual(['s']);
    reader.close();
  });

  it('is added to a store made before it existed (schema version set, NormLab tables present), but not by a read-only open', () => {
    const file = join(tmp.dir, 'unmarked.db');
    const store = ExperimentStore.open(file);
    const { sweep } = store.upsertSweep({ name: 'old', spec: {} });
    store.addRuns(sweep.id, [spec({ seed: 4 })]);
    store.close();
    const raw = new Database(file);
    raw.pragma('application_id = 0');
    raw.close();

    const reader = ExperimentStore.open(file, { readonly: true });
    expect(reader.listRuns().map((r) => r.seed)).toEqual([4]);
    reader.close();
    expect(header(file).applicationId).toBe(0);

    const writer = ExperimentStore.open(file);
    expect(writer.listRuns().map((r) => r.seed)).toEqual([4]);
    writer.close();
    expect(header(file).applicationId).toBe(NORMLAB_APPLICATION_ID);
  });

  it('an empty SQLite file (no tables, version 0) becomes a new store', () => {
    const file = join(tmp.dir, 'empty.db');
    new Database(file).close();
    const store = ExperimentStore.open(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    store.close();
    expect(header(file).applicationId).toBe(NORMLAB_APPLICATION_ID);
  });
});
