import type { NormLabApi } from '../api';
import type { LiveHub } from './live-events';
import type { AppApi, UiExtras } from './ui-extras';

const QUEUE_CHANGING = new Set(['submitSweep', 'advanceLrSearch', 'cancel', 'retry', 'pause', 'resume']);

/**
 * One object with every method of the service and the UI extras bound, so transports can call api[name](...)
 * without knowing the classes; calls that change the queue are announced as a live `queue_changed`.
 */
export function bindAppApi(service: NormLabApi, extras: UiExtras, live: LiveHub): AppApi {
  const api = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const source of [service, extras] as object[]) {
    const proto = Object.getPrototypeOf(source) === Object.prototype ? source : Object.getPrototypeOf(source);
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = (source as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof fn !== 'function') continue;
      api[name] = async (...args: unknown[]) => {
        const result = await (fn as (...a: unknown[]) => Promise<unknown>).apply(source, args);
        if (QUEUE_CHANGING.has(name)) live.emit({ type: 'queue_changed' });
        return result;
      };
    }
  }
  return api as unknown as AppApi;
}
