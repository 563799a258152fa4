import type { NormLabApi } from '../api';
import type { LiveHub } from './live-events';
import { changingMethods, type ApiMethod } from './routes';
import type { AppApi, UiExtras } from './ui-extras';

// from the routes' own `changes`, so a new write route is announced (and refused when read-only) by declaring it
const QUEUE_CHANGING: ReadonlySet<string> = changingMethods('queue');
const CHANGING: ReadonlySet<string> = changingMethods();

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

/**
 * One object with every method of the service and the UI extras bound, so transports can call api[name](...)
 * without knowing the classes; calls that change the queue are announced as a live `queue_changed`.
 */
export function bindAppApi(service: NormLabApi, extras: UiExtras, live: LiveHub, opts: BindOptions = {}): AppApi {
  const api = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const source of [service, extras] as object[]) {
    const proto = Object.getPrototypeOf(source) === Object.prototype ? source : Object.getPrototypeOf(source);
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = (source as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof fn !== 'function') continue;
      api[name] = async (...args: unknown[]) => {
        if (opts.readOnly !== undefined && CHANGING.has(name)) throw new ReadOnlyError(name as ApiMethod, opts.readOnly);
        const result = await (fn as (...a: unknown[]) => Promise<unknown>).apply(source, args);
        if (QUEUE_CHANGING.has(name)) live.emit({ type: 'queue_changed' });
        return result;
      };
    }
  }
  return api as unknown as AppApi;
}
