import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentStore } from '../store/experiment-store';
import type { AttachableRun, SchedulerStore } from '../scheduler/scheduler-store';
import { JOB_RECORD_FILE } from './job-script';

/** What the executor writes into a run folder once sbatch has answered. */
export interface JobRecord {
  runId: number;
  jobId: string;
}

export function readJobRecord(runDir: string): JobRecord | null {
  const path = join(runDir, JOB_RECORD_FILE);
  if (!existsSync(path)) return null;
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<JobRecord>;
    return typeof value.runId === 'number' && typeof value.jobId === 'string' ? { runId: value.runId, jobId: value.jobId } : null;
  } catch {
    return null; // cut short by a crash while it was written: the job is found by name instead (slurm-executor.ts)
  }
}

/**
 * The re-attach members of SchedulerStore (recordExecutorHandle, attachableRuns, adoptRun) for a store that does
 * not keep executor handles itself: the handle is the job record in the run folder, which the executor writes as
 * soon as sbatch answers, so it is as durable as the journal beside it.
 *
 * Such a store cannot change a run's owner, so a run adopted here is put back to `running` after the start-up
 * recovery queued it again (markRunning, which also counts an attempt; the run's log shows the requeue and the
 * re-attach). The experiment store's adapter (store-adapter.ts) has all three members (runs.job_id), so for it
 * this hands the store back unchanged and none of this happens.
 */
export function withJobRecords(base: SchedulerStore, store: ExperimentStore): SchedulerStore {
  if (base.attachableRuns && base.adoptRun && base.recordExecutorHandle) return base;
  const adopted = new Map<number, string>();
  return {
    ...base,
    recordExecutorHandle: () => {
      // already in the run folder (slurm-executor.ts writes it before reporting the handle)
    },
    attachableRuns(): AttachableRun[] {
      return store.listRuns({ status: 'running' }).flatMap((run) => {
        const record = run.checkpointDir ? readJobRecord(run.checkpointDir) : null;
        if (!record || record.runId !== run.id) return [];
        return [{ id: run.id, spec: run.spec, journalAck: run.journalAck, unit: run.device ?? 'slurm#1', handle: record.jobId }];
      });
    },
    adoptRun(runId: number): boolean {
      const run = store.getRun(runId);
      if (run?.status !== 'running') return false;
      adopted.set(runId, run.device ?? 'slurm#1');
      return true;
    },
    recoverInterrupted(owner: string): number {
      // the base recovery queues every run a dead manager left running, adopted ones too; those are taken
      // straight back (the queue is only placed from after this returns, so nobody else can claim them)
      let recovered = base.recoverInterrupted(owner);
      for (const [id, device] of adopted) {
        if (store.getRun(id)?.status !== 'queued') continue;
        store.markRunning(id, device);
        store.apply(id, { event: 'log', level: 'info', message: 'a restarted manager re-attached to its Slurm job' });
        recovered -= 1;
      }
      adopted.clear();
      return recovered;
    },
  };
}
