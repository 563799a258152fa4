import type { ExperimentStore } from '../store/experiment-store';
import { SchedulingPolicy, type PolicyOptions } from '../scheduler/policy';
import { schedulerStoreFor } from '../scheduler/store-adapter';
import { withJobRecords } from './job-records';
import { SlurmExecutor, type SlurmExecutorOptions } from './slurm-executor';

export interface SlurmSchedulerOptions extends SlurmExecutorOptions, PolicyOptions {
  /** Where the scheduler's own trouble (a failed requeue) is reported. */
  log?: (message: string) => void;
}

/**
 * The scheduling policy placing runs on Slurm instead of local slots: the same policy the local scheduler uses
 * (claims, retries, cancel, the lease), with the Slurm executor and job-record re-attach. `checkpointRoot` must
 * be on storage the compute nodes share; the store itself stays on this host.
 */
export function createSlurmScheduler(store: ExperimentStore, opts: SlurmSchedulerOptions): { policy: SchedulingPolicy; executor: SlurmExecutor } {
  // the store keeps job ids itself (runs.job_id), so withJobRecords hands it back unchanged; it stays for stores
  // that do not
  const schedulerStore = withJobRecords(schedulerStoreFor(store, opts.log), store);
  const executor = new SlurmExecutor({
    ...opts,
    onNode: (runId, node) => {
      schedulerStore.setRunDevice?.(runId, node);
      opts.onNode?.(runId, node);
    },
  });
  const policy = new SchedulingPolicy(schedulerStore, executor, {
    ...opts,
    // a cancelled job gets SIGTERM, then SIGKILL after the cluster's KillWait: give it that long and more
    cancelGraceMs: opts.cancelGraceMs ?? 120_000,
  });
  return { policy, executor };
}
