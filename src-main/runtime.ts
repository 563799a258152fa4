import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NormLabService, type NormLabServiceOptions } from './api/service';
import { SchedulerController } from './scheduler/controller';
import { detectDevices, type Device, type DeviceDetectionOptions } from './scheduler/devices';
import type { RunController } from './api/run-controller';
import type { SchedulingPolicy } from './scheduler/policy';
import { Scheduler } from './scheduler/scheduler';
import { schedulerStoreFor } from './scheduler/store-adapter';
import { SlurmController } from './slurm/slurm-controller';
import { createSlurmScheduler, type SlurmSchedulerOptions } from './slurm/slurm-scheduler';
import { ExperimentStore } from './store/experiment-store';

export interface NormLabRuntimeOptions {
  dbFile: string;
  /**
   * Checkpoints go to `<checkpointRoot>/<store id>/run-<id>`; `<db folder>/checkpoints` by default. The store id
   * keeps two stores in one folder (or a store deleted and started over) from resuming each other's runs.
   */
  checkpointRoot?: string;
  /** Automatic retries of a run whose worker was killed by a signal (default 2). */
  maxAutoRetries?: number;
  devices?: DeviceDetectionOptions;
  /** Start placing queued runs (and recover interrupted ones) right away. */
  startScheduler?: boolean;
  workerEntry?: string;
  log?: (message: string) => void;
  /** The service's data folder, download listener and doctor settings (the scheduler is this runtime's own). */
  service?: Omit<NormLabServiceOptions, 'scheduler'>;
  /**
   * Place runs as Slurm batch jobs instead of on this machine's devices (slurmSchedulerOptions builds these from a
   * sweep's executor spec); its `checkpointRoot` (on storage the nodes share) replaces the one above, and gets
   * the store id too, so two stores beside each other never share run folders.
   */
  executor?: SlurmSchedulerOptions;
}

/** The store, the scheduler and the service wired together: what the CLI, `normlab serve` and Electron share. */
export interface NormLabRuntime<S extends SchedulingPolicy = Scheduler> {
  store: ExperimentStore;
  /** The local slots' Scheduler, or with `executor` the Slurm executor's policy: the same policy either way. */
  scheduler: S;
  service: NormLabService;
  devices: Device[];
  /** Waits for running workers; with `interruptRunning` they checkpoint and stop first, to resume next time. */
  close(opts?: { interruptRunning?: boolean }): Promise<void>;
}

export async function openRuntime(opts: NormLabRuntimeOptions & { executor?: undefined }): Promise<NormLabRuntime>;
export async function openRuntime(opts: NormLabRuntimeOptions): Promise<NormLabRuntime<SchedulingPolicy>>;
export async function openRuntime(opts: NormLabRuntimeOptions): Promise<NormLabRuntime<SchedulingPolicy>> {
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  const store = ExperimentStore.open(opts.dbFile);
  const log = opts.log ?? ((message: string) => process.stderr.write(`normlab: ${message}\n`));
  try {
    let scheduler: SchedulingPolicy;
    let controller: RunController;
    let devices: Device[] = [];
    if (opts.executor) {
      const slurm = createSlurmScheduler(store, {
        log, maxAutoRetries: opts.maxAutoRetries, workerEntry: opts.workerEntry, ...opts.executor,
        checkpointRoot: join(opts.executor.checkpointRoot, store.storeId),
      });
      scheduler = slurm.policy;
      controller = new SlurmController(slurm.policy, slurm.executor, /gpu/.test(opts.executor.gres ?? '') ? 'gpu' : 'cpu');
    } else {
      devices = await detectDevices(opts.devices);
      const local = new Scheduler(schedulerStoreFor(store, log), {
        devices,
        checkpointRoot: join(opts.checkpointRoot ?? join(dirname(opts.dbFile), 'checkpoints'), store.storeId),
        workerEntry: opts.workerEntry,
        maxAutoRetries: opts.maxAutoRetries,
      });
      scheduler = local;
      controller = new SchedulerController(local, () => detectDevices(opts.devices));
    }
    const service = new NormLabService(store, controller, { ...opts.service, scheduler });
    // an lr search proposes its next runs only once the current ones have results
    scheduler.on('runEnded', (runId) => {
      service.afterRunEnded(runId).catch((err: unknown) => log(`lr search after run ${runId}: ${String(err)}`));
    });
    if (opts.startScheduler !== false) scheduler.start();
    let closed = false;
    return {
      store,
      scheduler,
      service,
      devices,
      async close(closeOpts = {}) {
        if (closed) return;
        closed = true;
        await scheduler.stop(closeOpts);
        store.close();
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
