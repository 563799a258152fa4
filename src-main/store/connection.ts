import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { StoreOpenError, describeSqliteError } from './errors';
import { MIGRATIONS, SchemaVersionError, migrate } from './migrations';

export interface ConnectionOptions {
  readonly?: boolean;
  /** How long a statement waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

/**
 * Opens the store's file, sets the pragmas every connection needs and brings the schema up to date. Any failure
 * becomes a StoreOpenError naming the file, so "file is not a database" never reaches a user without its path.
 */
export function openDatabase(file: string, options: ConnectionOptions = {}): Database.Database {
  const path = resolve(file);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (options.readonly && !existsSync(path)) throw new StoreOpenError(path, 'the file does not exist');
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, timeout: busyTimeoutMs });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    if (options.readonly) {
      checkSchemaReadable(db);
    } else {
      // WAL: readers (the UI, an export) never block the writer ingesting worker events, and vice versa
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits
      db.pragma('synchronous = NORMAL');
      migrate(db);
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
