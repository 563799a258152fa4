import type { JournalAck } from '../../src-worker/train/journal';
import type { RunSpec } from './types';
import type { StoreContext } from './store-context';

/** A running run with the executor's handle recorded for it: a restarted manager may find its job still alive. */
export interface AttachableRunRecord {
  id: number;
  spec: RunSpec;
  journalAck: JournalAck;
  /** Where the run was placed (its device), which a re-attached run keeps. */
  unit: string;
  handle: string;
}

interface AttachableRow {
  id: number;
  spec_json: string;
  journal_id: string | null;
  journal_seq: number;
  device: string | null;
  job_id: string;
}

/**
 * The executor's handle of each run (`runs.job_id`, a Slurm job id), and what a restarted manager needs to take
 * its runs back. The handle outlives the run's `running` state on purpose: the runs CSV and the run's record say
 * which job trained it; only `attachable()` restricts itself to runs still running.
 */
export class ExecutorHandles {
  constructor(private readonly ctx: StoreContext) {}

  record(runId: number, handle: string): void {
    this.ctx.stmt(`UPDATE runs SET job_id = @handle WHERE id = @runId`).run({ runId, handle });
  }

  attachable(): AttachableRunRecord[] {
    const rows = this.ctx
      .stmt(`SELECT id, spec_json, journal_id, journal_seq, device, job_id FROM runs WHERE status = 'running' AND job_id IS NOT NULL ORDER BY id`)
      .all() as AttachableRow[];
    return rows.map((row) => ({
      id: row.id,
      // as everywhere else, the stored spec has no runId (it is not known before the insert)
      spec: { ...(JSON.parse(row.spec_json) as RunSpec), runId: row.id },
      journalAck: { journal: row.journal_id, seq: row.journal_seq },
      unit: row.device ?? row.job_id,
      handle: row.job_id,
    }));
  }

  /** Makes `owner` the owner of a run still running, so its start-up recovery leaves it alone; false when not running. */
  adopt(runId: number, owner: string): boolean {
    return this.ctx.stmt(`UPDATE runs SET owner = @owner WHERE id = @runId AND status = 'running'`).run({ runId, owner }).changes > 0;
  }

  /** Where a running run trains once that is known (the node Slurm gave the job). */
  setDevice(runId: number, device: string): void {
    this.ctx.stmt(`UPDATE runs SET device = @device WHERE id = @runId AND status = 'running'`).run({ runId, device });
  }
}
