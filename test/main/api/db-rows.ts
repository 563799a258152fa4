import Database from 'better-sqlite3';

/** Rows of a store file's sweeps and runs tables, read through a connection of its own (what another process sees). */
export function storedRows(file: string): { sweeps: unknown[]; runs: unknown[] } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      sweeps: db.prepare('SELECT * FROM sweeps ORDER BY id').all(),
      runs: db.prepare('SELECT * FROM runs ORDER BY id').all(),
    };
  } finally {
    db.close();
  }
}
