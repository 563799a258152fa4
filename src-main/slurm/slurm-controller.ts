import type { DeviceInfo, RunController } from '../api/run-controller';
import type { SchedulingPolicy } from '../scheduler/policy';
import type { SlurmExecutor } from './slurm-executor';

/**
 * The service's handle on a Slurm-backed policy (cancel/retry/pause/resume), as SchedulerController is for local
 * slots. Its "devices" are the executor's job places (`--max-jobs` of them), named by the job in each and the node
 * it runs on, or why it waits: a cluster has no local devices to read.
 */
export class SlurmController implements RunController {
  constructor(
    private readonly policy: SchedulingPolicy,
    private readonly executor: SlurmExecutor,
    /** What the jobs ask for: `gpu` when the job requests a GPU GRES. */
    private readonly kind: DeviceInfo['kind'],
  ) {}

  async cancel(runId: number): Promise<void> {
    this.policy.cancel(runId);
  }

  async retry(runId: number): Promise<void> {
    this.policy.retry(runId);
  }

  async pause(): Promise<void> {
    this.policy.pause();
  }

  async resume(): Promise<void> {
    this.policy.resume();
  }

  queueChanged(): void {
    this.policy.notify();
  }

  async devices(): Promise<DeviceInfo[]> {
    const byRun = new Map(this.executor.statuses().map((s) => [s.runId, s]));
    return this.executor.units().map((unit) => {
      const job = unit.runId === null ? undefined : byRun.get(unit.runId);
      const where = job?.nodes ? ` on ${job.nodes}` : job?.reason ? ` (${job.reason})` : '';
      return {
        id: unit.label,
        kind: this.kind,
        name: job?.jobId ? `Slurm job ${job.jobId} ${job.state}${where}` : 'Slurm job place (free)',
        runId: unit.runId,
      };
    });
  }
}
