import type Database from 'better-sqlite3';

/**
 * What every part of the store shares: the writer connection, one cache of prepared statements, the clock and
 * the ingest buffer's flush (reads and status changes call it first, so they never miss history still in memory).
 */
export interface StoreContext {
  readonly db: Database.Database;
  /** The store file's absolute path, for messages. */
  readonly file: string;
  now(): number;
  /** A prepared statement for `sql`, prepared once per store. */
  stmt(sql: string): Database.Statement;
  /** Writes the pending history now (nothing for a read-only store); returns the number of rows written. */
  flush(): number;
}

/** Prepares each distinct SQL text once; the store uses a handful, so the cache stays small. */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const statements = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
