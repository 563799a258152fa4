import { dirname, join } from 'node:path';
import { NormLabService, type NormLabApi } from '../api/service';
import { ServiceError } from '../api/errors';
import type { RunController } from '../api/run-controller';
import type { DownloadEvent } from '../api/types';
import { openRuntime, type NormLabRuntime, type NormLabRuntimeOptions } from '../runtime';
import { ExperimentStore } from '../store/experiment-store';
import { bindAppApi } from './app-api';
import { LiveHub, toLiveEvent } from './live-events';

export interface AppBackendOptions extends Pick<NormLabRuntimeOptions, 'dbFile' | 'checkpointRoot' | 'devices' | 'workerEntry' | 'log'> {
  /** Where data sets are downloaded; `<db folder>/data` by default. */
  dataDir?: string;
  /**
   * Place queued runs on this machine's devices (the default). False opens a read-only viewer: the store is
   * opened read-only (the file must exist), no scheduler is made, and every method that changes something
   * refuses with a ReadOnlyError.
   */
  startScheduler?: boolean;
}

/** The runtime (store + scheduler + service) plus what the UI needs on top: live events and the bound API. */
export interface AppBackend {
  api: NormLabApi;
  live: LiveHub;
  /** Null for a read-only viewer, which has no scheduler. */
  runtime: NormLabRuntime | null;
  readOnly: boolean;
  dataDir: string;
  close(opts?: { interruptRunning?: boolean }): Promise<void>;
}

const READ_ONLY_REASON = 'opened without a scheduler';

/**
 * For the read-only viewer's service: the service falls back to changing the store itself when it has no
 * controller (a queued run can be cancelled without one), so it gets one that says no instead.
 */
function readOnlyController(): RunController {
  const refuse = (action: string) => async () => {
    throw new ServiceError('unavailable', `cannot ${action}: this store is open read-only (${READ_ONLY_REASON})`);
  };
  return { cancel: refuse('cancel'), retry: refuse('retry'), pause: refuse('pause'), resume: refuse('resume'), devices: async () => [] };
}

export async function openAppBackend(opts: AppBackendOptions): Promise<AppBackend> {
  const live = new LiveHub();
  const dataDir = opts.dataDir ?? join(dirname(opts.dbFile), 'data');
  const onDownload = (e: DownloadEvent) => live.emit({ type: 'download', ...e });
  if (opts.startScheduler === false) {
    // not openRuntime: it opens the file read-write (migrating it, switching it to WAL) and makes a scheduler
    const store = ExperimentStore.open(opts.dbFile, { readonly: true });
    const service = new NormLabService(store, readOnlyController(), { dataDir, onDownload });
    let closed = false;
    return {
      api: bindAppApi(service, live, { readOnly: READ_ONLY_REASON }),
      live,
      runtime: null,
      readOnly: true,
      dataDir,
      async close() {
        if (closed) return;
        closed = true;
        store.close();
      },
    };
  }
  const runtime = await openRuntime({ ...opts, startScheduler: true, service: { dataDir, onDownload } });
  const { scheduler, store, service } = runtime;
  scheduler.on('event', (runId, event) => live.emit(toLiveEvent(runId, event)));
  scheduler.on('runStarted', (runId, device) => live.emit({ type: 'run_started', runId, device }));
  scheduler.on('runEnded', (runId) => live.emit({ type: 'run_ended', runId, status: store.getRun(runId)?.status }));
  // taking over from (or waiting on) another process changes who trains the runs: pages re-read the queue state
  scheduler.on('lease', () => live.emit({ type: 'queue_changed' }));
  return {
    api: bindAppApi(service, live),
    live,
    runtime,
    readOnly: false,
    dataDir,
    close: (closeOpts) => runtime.close(closeOpts),
  };
}
