import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StoreOpenError, describeSqliteError } from './errors';
import { MIGRATIONS, SchemaVersionError, migrate } from './migrations';

// SQLite reads `file:` URIs only when told so before its first connection, and better-sqlite3 takes that from this
// variable when its addon loads (on the first `new Database`, after this module's imports). One case needs a URI:
// `immutable=1`, the only way to read a WAL store in a folder this process cannot write (openReadonly). Every
// name we open is an absolute path, so none starts with "file:" by accident; a value the user set wins.
process.env.SQLITE_USE_URI ??= '1';

/** `PRAGMA application_id` of a NormLab store: ASCII "NLab". It tells our files from other programs' SQLite files. */
export const NORMLAB_APPLICATION_ID = 0x4e4c6162;

/** Tables every NormLab schema has had since migration 1: how a store made before the marker is recognised. */
const NORMLAB_TABLES = ['runs', 'sweeps', 'metrics'] as const;

export interface ConnectionOptions {
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

/**
 * Opens the store's file, sets the pragmas every connection needs and brings the schema up to date. Any failure
 * becomes a StoreOpenError naming the file, so "file is not a database" never reaches a user without its path.
 * A file that holds another program's data is refused before anything is written to it.
 */
export function openDatabase(file: string, options: ConnectionOptions = {}): Database.Database {
  const path = resolve(file);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (options.readonly && !existsSync(path)) throw new StoreOpenError(path, 'the file does not exist');
  let db: Database.Database | undefined;
  try {
    if (options.readonly) {
      db = openReadonly(path, busyTimeoutMs);
      checkOwnership(db, path);
      checkSchemaReadable(db);
    } else {
      db = new Database(path, { timeout: busyTimeoutMs });
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      const ownership = checkOwnership(db, path);
      // WAL: readers (the UI, an export) never block the writer ingesting worker events, and vice versa
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits
      db.pragma('synchronous = NORMAL');
      migrate(db);
      if (ownership !== 'marked') db.pragma(`application_id = ${NORMLAB_APPLICATION_ID}`);
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof StoreOpenError) throw error;
    if (error instanceof SchemaVersionError) throw new StoreOpenError(path, error.message);
    throw new StoreOpenError(path, describeSqliteError(error, busyTimeoutMs));
  }
}

/**
 * A read-only connection. Reading a WAL store needs its -shm index, which SQLite creates next to the file when it
 * is missing (it is deleted when the last connection closes), so in a folder this process cannot write the plain
 * open fails. Then the file is opened `immutable=1`, which reads the main file alone without locks or -shm; that is
 * only right when nobody writes it, which holds here: a live writer keeps a -shm file (and the plain open would have
 * used it), and a -wal file with frames in it would be ignored, so that case is refused instead.
 * See https://www.sqlite.org/wal.html, "Read-Only Databases".
 */
function openReadonly(path: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma('schema_version'); // the first read: where SQLite opens, or tries to create, the -shm file
    return db;
  } catch (error) {
    db.close();
    if (folderIsWritable(dirname(path))) throw error;
  }
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new StoreOpenError(
      path,
      `its folder is read-only and ${wal} holds commits not yet copied into the main file, which SQLite cannot read ` +
        `without creating ${path}-shm; open the store once where its folder is writable (closing it folds the log in), ` +
        'or copy the files to a writable folder',
    );
  }
  const immutable = new Database(`${pathToFileURL(path).href}?immutable=1`, { readonly: true, timeout: busyTimeoutMs });
  try {
    immutable.pragma('schema_version');
    return immutable;
  } catch (error) {
    immutable.close();
    throw new StoreOpenError(
      path,
      `its folder is read-only and reading it without a -shm file failed (${describeSqliteError(error, busyTimeoutMs)}); ` +
        'copy the file to a writable folder',
    );
  }
}

function folderIsWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

type Ownership = 'marked' | 'empty' | 'unmarked';

/**
 * Whose file this is: NormLab's marker ('marked'), a new empty file ('empty'), or a store made before the marker
 * existed ('unmarked': schema version set and NormLab's tables present). Anything else belongs to another program
 * and is refused, so NormLab never adds its tables to someone else's database.
 */
function checkOwnership(db: Database.Database, path: string): Ownership {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  if (applicationId === NORMLAB_APPLICATION_ID) return 'marked';
  if (applicationId !== 0) {
    throw new StoreOpenError(
      path,
      `it is not a NormLab experiment store: it belongs to another application (application_id ${formatApplicationId(applicationId)})`,
    );
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db
    .prepare(`SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table' DESC, name`)
    .all() as { type: string; name: string }[];
  if (objects.length === 0 && version === 0) return 'empty';
  const tables = new Set(objects.filter((o) => o.type === 'table').map((o) => o.name));
  if (version >= 1 && NORMLAB_TABLES.every((t) => tables.has(t))) return 'unmarked';
  const shown = objects.slice(0, 5).map((o) => (o.type === 'table' ? o.name : `${o.name} (${o.type})`));
  const found =
    objects.length === 0
      ? `schema version ${version} but no tables`
      : `${objects.length === 1 ? 'a table' : 'tables'} of some other program: ${shown.join(', ')}` +
        (objects.length > shown.length ? `, … (${objects.length} in all)` : '');
  throw new StoreOpenError(
    path,
    `it is not a NormLab experiment store: it has no NormLab marker and holds ${found}; pass a new file or an existing NormLab store`,
  );
}

/** 0x47504b47 ("GPKG"): the hex SQLite's docs use, and the four characters when they are printable. */
function formatApplicationId(id: number): string {
  const hex = `0x${(id >>> 0).toString(16).padStart(8, '0')}`;
  const bytes = [24, 16, 8, 0].map((shift) => (id >>> shift) & 0xff);
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f);
  return printable ? `${hex}, "${String.fromCharCode(...bytes)}"` : hex;
}

function checkSchemaReadable(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === MIGRATIONS.length) return;
  if (version > MIGRATIONS.length) {
    throw new SchemaVersionError(
      `schema version ${version} is newer than this NormLab understands (${MIGRATIONS.length}); update NormLab`,
    );
  }
  const problem =
    version === 0
      ? 'it is not a NormLab experiment store (schema version 0)'
      : `schema version ${version} is older than ${MIGRATIONS.length}; open it read-write once to migrate it`;
  throw new SchemaVersionError(problem);
}
