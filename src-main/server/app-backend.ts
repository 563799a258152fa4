import { dirname, join } from 'node:path';
import { openRuntime, type NormLabRuntime, type NormLabRuntimeOptions } from '../runtime';
import { LiveHub, toLiveEvent } from './live-events';
import { createUiExtras, type AppApi } from './ui-extras';

export interface AppBackendOptions extends Pick<NormLabRuntimeOptions, 'dbFile' | 'checkpointRoot' | 'devices' | 'workerEntry' | 'log'> {
  /** Where data sets are downloaded; `<db folder>/data` by default. */
  dataDir?: string;
  /** Place queued runs on this machine's devices (the default); false for a read-only viewer. */
  startScheduler?: boolean;
}

/** The runtime (store + scheduler + service) plus what the UI needs on top: live events and the UI extras. */
export interface AppBackend {
  api: AppApi;
  live: LiveHub;
  runtime: NormLabRuntime;
  dataDir: string;
  close(opts?: { cancelRunning?: boolean }): Promise<void>;
}

const QUEUE_CHANGING = new Set(['submitSweep', 'advanceLrSearch', 'cancel', 'retry', 'pause', 'resume']);

export async function openAppBackend(opts: AppBackendOptions): Promise<AppBackend> {
  const runtime = await openRuntime({ ...opts, startScheduler: opts.startScheduler ?? true });
  const live = new LiveHub();
  const { scheduler, store, service } = runtime;
  scheduler.on('event', (runId, event) => live.emit(toLiveEvent(runId, event)));
  scheduler.on('runStarted', (runId, device) => live.emit({ type: 'run_started', runId, device }));
  scheduler.on('runEnded', (runId) => live.emit({ type: 'run_ended', runId, status: store.getRun(runId)?.status }));
  const dataDir = opts.dataDir ?? join(dirname(opts.dbFile), 'data');
  const extras = createUiExtras({ store, service, live, dataDir, isPaused: opts.startScheduler === false ? () => null : () => scheduler.isPaused() });

  // one object with every method bound, so transports can call api[name](...) without knowing the class
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
  return {
    api: api as unknown as AppApi,
    live,
    runtime,
    dataDir,
    close: (closeOpts) => runtime.close(closeOpts),
  };
}
