/** Errors the store raises on purpose; each message names the file or the run it is about. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** The database file cannot be used: missing, not SQLite, damaged, locked, or from a newer NormLab. */
export class StoreOpenError extends StoreError {
  override name = 'StoreOpenError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`cannot open experiment store ${file}: ${problem}`);
  }
}

export class RunNotFoundError extends StoreError {
  override name = 'RunNotFoundError';
  constructor(readonly runId: number) {
    super(`run ${runId} does not exist`);
  }
}

export class InvalidTransitionError extends StoreError {
  override name = 'InvalidTransitionError';
  constructor(
    readonly runId: number,
    readonly from: string,
    readonly to: string,
    allowedFrom: readonly string[],
  ) {
    super(`run ${runId}: cannot go from ${from} to ${to} (only from ${allowedFrom.join(' or ')})`);
  }
}

/** A worker event that cannot be recorded; nothing of it is written. */
export class IngestError extends StoreError {
  override name = 'IngestError';
}

interface SqliteLikeError {
  code?: unknown;
  message?: unknown;
}

/** Turns SQLite's terse codes into a sentence a user can act on. */
export function describeSqliteError(error: unknown, busyTimeoutMs: number): string {
  const { code, message } = (error ?? {}) as SqliteLikeError;
  const text = typeof message === 'string' ? message : String(error);
  switch (code) {
    case 'SQLITE_NOTADB':
      return `the file is not an SQLite database (corrupted, or some other kind of file) [${code}]`;
    case 'SQLITE_CORRUPT':
      return `the database is corrupted: ${text} [${code}]`;
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return `the database is locked by another connection that kept it longer than the ${busyTimeoutMs} ms busy timeout; close the other program or try again [${code}]`;
    case 'SQLITE_CANTOPEN':
      return `the file cannot be opened (missing folder or no permission) [${code}]`;
    case 'SQLITE_READONLY':
      return `the file is read-only [${code}]`;
    default:
      return typeof code === 'string' ? `${text} [${code}]` : text;
  }
}
