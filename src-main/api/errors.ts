/**
 * NormLab's one error taxonomy: a closed set of codes, what each means to an HTTP client and to a shell, and
 * the one place where every domain error class is given its code. Pure (no imports): the renderer reads the
 * codes, and classifying by class name keeps this file from loading tfjs to recognise a worker's errors.
 */

export const ERROR_CODES = [
  'invalid_input', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'read_only', 'unavailable', 'storage', 'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
/** The name the service used before the taxonomy covered the transports too. */
export type ServiceErrorCode = ErrorCode;

/** Exit status of a call the CLI refuses as given (bad flag, bad spec, unknown command): scripts tell it from a failure (1). */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

interface CodeMeaning {
  http: number;
  exit: number;
  /** What the code says, for docs and for a message that has nothing better. */
  means: string;
}

export const ERROR_MEANINGS: Readonly<Record<ErrorCode, CodeMeaning>> = Object.freeze({
  invalid_input: { http: 400, exit: EXIT_USAGE, means: 'the request is wrong as given (a field, a spec, a flag); nothing was changed' },
  unauthorized: { http: 401, exit: EXIT_FAILURE, means: 'no or a wrong access token' },
  forbidden: { http: 403, exit: EXIT_FAILURE, means: 'a foreign Host or Origin' },
  not_found: { http: 404, exit: EXIT_FAILURE, means: 'no such sweep, run or route' },
  conflict: { http: 409, exit: EXIT_FAILURE, means: 'the run state machine (or what is already stored) forbids it now' },
  read_only: { http: 405, exit: EXIT_FAILURE, means: 'a write to a store or server opened read-only' },
  unavailable: { http: 503, exit: EXIT_FAILURE, means: 'needs a scheduler (or a resource) that is not there' },
  storage: { http: 500, exit: EXIT_FAILURE, means: 'the database file cannot be used' },
  internal: { http: 500, exit: EXIT_FAILURE, means: 'a bug or an unexpected failure' },
});

export const httpStatusOf = (code: ErrorCode): number => ERROR_MEANINGS[code].http;
export const exitCodeOf = (code: ErrorCode): number => ERROR_MEANINGS[code].exit;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * The one error type the service throws. `code` survives IPC, where only an error's message and plain fields
 * cross; `problems` lists every issue of an invalid input.
 */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }

  toJSON(): { code: ErrorCode; message: string; problems: string[] } {
    return { code: this.code, message: this.message, problems: this.problems };
  }
}

/**
 * Every domain error class, by its `name` (each sets one), and its code. Subclasses come before the classes they
 * extend only where they differ (a StoreOpenError is a StoreError, but `storage`, not `invalid_input`).
 */
export const DOMAIN_ERROR_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  // the call as given
  SweepSpecError: 'invalid_input',
  RunSpecError: 'invalid_input',
  PresetError: 'invalid_input',
  InvalidRunError: 'invalid_input',
  DpSetupError: 'invalid_input',
  DpIncompatibleModelError: 'invalid_input',
  DataError: 'invalid_input',
  UsageError: 'invalid_input',
  TrainUsageError: 'invalid_input',
  PrivacyArgumentError: 'invalid_input',
  InvalidArgumentError: 'invalid_input',
  CommanderError: 'invalid_input',
  ZodError: 'invalid_input',
  IngestError: 'invalid_input',
  // the store's state machine and contents
  InvalidTransitionError: 'conflict',
  RunNotFoundError: 'not_found',
  // the file
  StoreOpenError: 'storage',
  SchemaVersionError: 'storage',
  CheckpointError: 'storage',
  SegPreviewFileError: 'storage',
  SqliteError: 'storage',
  ReadOnlyError: 'read_only',
  GpuOutOfMemoryError: 'unavailable',
  // a StoreError not named above: a request the store refuses (e.g. a sweep that does not exist)
  StoreError: 'invalid_input',
});

function problemsOf(error: Error): string[] {
  const problems = (error as { problems?: unknown }).problems;
  return Array.isArray(problems) && problems.every((p) => typeof p === 'string') ? problems : [];
}

/** The code of any thrown value: its own when it has one, its class's, or `internal`. */
export function errorCodeOf(error: unknown): ErrorCode {
  if (error instanceof ServiceError) return error.code;
  if (!(error instanceof Error)) return 'internal';
  // a class not in the table may extend one that is (a subclass of StoreError, UsageError …)
  for (let proto: unknown = error; proto instanceof Object && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = proto === error ? error.name : Object.hasOwn(proto, 'constructor') ? (proto.constructor as { name?: unknown }).name : undefined;
    if (typeof name === 'string' && Object.hasOwn(DOMAIN_ERROR_CODES, name)) return DOMAIN_ERROR_CODES[name] ?? 'internal';
  }
  return 'internal';
}

/** Any thrown value as a ServiceError with its code; the message and problems are kept. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  const code = errorCodeOf(error);
  if (!(error instanceof Error)) return new ServiceError(code, String(error));
  const wrapped = new ServiceError(code, error.message, problemsOf(error));
  wrapped.cause = error;
  return wrapped;
}
