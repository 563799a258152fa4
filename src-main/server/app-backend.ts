import { dirname, join } from 'node:path';
import { openRuntime, type NormLabRuntime, type NormLabRuntimeOptions } from '../runtime';
import { bindAppApi } from './app-api';
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

export async function openAppBackend(opts: AppBackendOptions): Promise<AppBackend> {
  const runtime = await openRuntime({ ...opts, startScheduler: opts.startScheduler ?? true });
  const live = new LiveHub();
  const { scheduler, store, service } = runtime;
  scheduler.on('event', (runId, event) => live.emit(toLiveEvent(runId, event)));
  scheduler.on('runStarted', (runId, device) => live.emit({ type: 'run_started', runId, device }));
  scheduler.on('runEnded', (runId) => live.emit({ type: 'run_ended', runId, status: store.getRun(runId)?.status }));
  const dataDir = opts.dataDir ?? join(dirname(opts.dbFile), 'data');
  const extras = createUiExtras({ store, service, live, dataDir, isPaused: opts.startScheduler === false ? () => null : () => scheduler.isPaused() });

  const api = bindAppApi(service, extras, live);
  return {
    api,
    live,
    runtime,
    dataDir,
    close: (closeOpts) => runtime.close(closeOpts),
  };
}
