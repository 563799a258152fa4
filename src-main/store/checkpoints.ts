import { RunNotFoundError } from './errors';
import type { StoreContext } from './store-context';
import type { CheckpointRecord } from './types';

interface CheckpointRow {
  id: number;
  run_id: number;
  epoch: number;
  path: string;
  reason: CheckpointRecord['reason'];
  time: number;
}

function toCheckpoint(row: CheckpointRow): CheckpointRecord {
  return { id: row.id, runId: row.run_id, epoch: row.epoch, path: row.path, reason: row.reason, time: row.time };
}

/** Where a run's checkpoints (and journal) live, and the checkpoints its workers reported. */
export class Checkpoints {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Fixes where a run's checkpoints and journal live, the first time it is claimed; later calls return the folder
   * recorded then, so a run never moves away from its own checkpoints.
   */
  assignDir(runId: number, dir: string): string {
    const row = this.ctx.stmt(`
      UPDATE runs SET checkpoint_dir = COALESCE(checkpoint_dir, @dir) WHERE id = @runId RETURNING checkpoint_dir`).get({ runId, dir }) as
      { checkpoint_dir: string } | undefined;
    if (!row) throw new RunNotFoundError(runId);
    return row.checkpoint_dir;
  }

  list(runId: number): CheckpointRecord[] {
    return (this.ctx.stmt(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY epoch, id`).all(runId) as CheckpointRow[]).map(toCheckpoint);
  }

  /** The checkpoint a resumed run should start from: highest epoch, latest written on a tie. */
  latest(runId: number): CheckpointRecord | undefined {
    const row = this.ctx.stmt(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY epoch DESC, id DESC LIMIT 1`).get(runId) as
      | CheckpointRow
      | undefined;
    return row && toCheckpoint(row);
  }
}
