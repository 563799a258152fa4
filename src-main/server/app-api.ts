import type { NormLabApi } from '../api';
import type { LiveHub } from './live-events';
import { API_METHODS, changingMethods, type ApiMethod } from './routes';

// from the routes' own `changes`, so a new write route is announced (and refused when read-only) by declaring it
const QUEUE_CHANGING: ReadonlySet<ApiMethod> = changingMethods('queue');
const CHANGING: ReadonlySet<ApiMethod> = changingMethods();

/** A call that would change something, made to a backend or server opened read-only. Answered as 405 over HTTP. */
export class ReadOnlyError extends Error {
  override name = 'ReadOnlyError';
  constructor(
    readonly method: ApiMethod,
    /** Why it is read-only, as the user caused it, e.g. "started with --no-scheduler". */
    readonly reason: string,
  ) {
    super(`this server is read-only (${reason}): ${method} is not available`);
  }
}

export interface BindOptions {
  /** Refuse every method whose route changes something, with this reason (see ReadOnlyError). */
  readOnly?: string;
}

type BoundMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * The service's methods named in the method table (routes.ts), and no others, each wrapped so that a call
 * that changes the queue is announced as a live `queue_changed`, and every write refuses when read-only. What
 * IPC and HTTP dispatch to, so both reach exactly the same methods.
 */
export function bindAppApi(service: NormLabApi, live: LiveHub, opts: BindOptions = {}): NormLabApi {
  const api: Partial<Record<ApiMethod, BoundMethod>> = {};
  for (const name of API_METHODS) {
    const fn = service[name].bind(service) as BoundMethod;
    api[name] = async (...args: unknown[]) => {
      if (opts.readOnly !== undefined && CHANGING.has(name)) throw new ReadOnlyError(name, opts.readOnly);
      const result = await fn(...args);
      if (QUEUE_CHANGING.has(name)) live.emit({ type: 'queue_changed' });
      return result;
    };
  }
  return api as NormLabApi;
}
