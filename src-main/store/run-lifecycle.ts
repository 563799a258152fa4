import { InvalidTransitionError } from './errors';
import { toRunRecord, type RunRow } from './run-rows';
import { transitionSources } from './run-states';
import type { RunLogs } from './run-logs';
import type { Runs } from './runs';
import type { StoreContext } from './store-context';
import type { FinalMetrics, RunRecord, RunStatus } from './types';

/** A column's new value: a plain value, or SQL over the row's current values (`attempts + 1`). */
type SetValue = string | number | null | { sql: string };

/** Which rows a status write may touch, before the state machine's own condition on their status. */
interface Target {
  sql: string;
  params: Record<string, unknown>;
}

const STDERR_TAIL_CHARS = 8000;

function finalColumns(metrics: FinalMetrics): Record<string, SetValue> {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    final_test_acc: finite(metrics.test_acc),
    best_test_acc: finite(metrics.best_test_acc),
    final_test_loss: finite(metrics.test_loss),
    epochs_completed: metrics.epochs_completed,
  };
}

/**
 * The run lifecycle: every change of `runs.status` is made by `writeStatus`, whose UPDATE only matches rows in a
 * status run-states.ts lets move to the target, so the table is enforced by SQLite in the same statement
 * (two schedulers racing for one run cannot both win). Pending history is written before any status changes.
 */
export class RunLifecycle {
  constructor(
    private readonly ctx: StoreContext,
    private readonly runs: Runs,
    private readonly logs: RunLogs,
    /** The state machine's rule; a parameter only so a test can show that no status write bypasses it. */
    private readonly sources: (to: RunStatus) => readonly RunStatus[] = transitionSources,
  ) {}

  /**
   * Takes the next queued run (highest priority, then oldest) and marks it running on `device`, in one UPDATE,
   * so two schedulers sharing the file can never claim the same run.
   */
  claimNext(device: string, owner: string | null = null): RunRecord | undefined {
    const next: Target = {
      sql: `id = (SELECT id FROM runs WHERE status = 'queued' ORDER BY priority DESC, id ASC LIMIT 1)`,
      params: {},
    };
    const [row] = this.writeStatus('running', next, { ...this.startColumns(device), owner });
    return row && toRunRecord(row);
  }

  /** Marks one particular queued run running (a one-off run started outside the queue). */
  markRunning(runId: number, device: string): RunRecord {
    return this.move(runId, 'running', this.startColumns(device));
  }

  finish(runId: number, metrics: FinalMetrics): RunRecord {
    return this.move(runId, 'finished', { ...finalColumns(metrics), finished_at: this.ctx.now() });
  }

  diverge(runId: number, reason: string, metrics?: FinalMetrics): RunRecord {
    return this.move(runId, 'diverged', { ...(metrics ? finalColumns(metrics) : {}), error_reason: reason, finished_at: this.ctx.now() });
  }

  /** A run that could not complete: crashed worker, bad spec at start, out of memory. */
  fail(runId: number, reason: string, stderrTail?: string): RunRecord {
    const sets: Record<string, SetValue> = { error_reason: reason, finished_at: this.ctx.now() };
    if (stderrTail !== undefined) sets.stderr_tail = stderrTail.slice(-STDERR_TAIL_CHARS);
    return this.move(runId, 'failed', sets);
  }

  cancel(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.move(runId, 'cancelled', { ...(metrics ? finalColumns(metrics) : {}), finished_at: this.ctx.now() });
  }

  /** The worker checkpointed to be resumed (Ctrl-C, the app quitting): the run waits for the next start. */
  interrupt(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.move(runId, 'interrupted', {
      ...(metrics ? finalColumns(metrics) : {}),
      error_reason: 'stopped for now; it resumes from its checkpoint on the next start',
    });
  }

  /**
   * Runs still marked running by another scheduler were cut off when it died. Only a scheduler that holds the
   * lease may call this (the lease is what proves the others dead). Returns the ids.
   */
  markInterruptedAtStartup(owner: string | null = null): number[] {
    const othersRuns: Target = { sql: `owner IS NULL OR @owner IS NULL OR owner != @owner`, params: { owner } };
    const rows = this.writeStatus('interrupted', othersRuns, { error_reason: 'the process running it exited before it finished' });
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Every run waiting to be resumed, oldest first. */
  interruptedRunIds(): number[] {
    return (this.ctx.stmt(`SELECT id FROM runs WHERE status = 'interrupted' ORDER BY id`).all() as { id: number }[]).map((r) => r.id);
  }

  /**
   * A worker that was killed (OOM killer, kill -9) should not need a click: the run is recorded failed, then
   * requeued while it has automatic retries left. Returns whether it was requeued.
   */
  failOrRetry(runId: number, reason: string, stderrTail: string, maxRetries: number): boolean {
    this.ctx.flush();
    return this.ctx.db.transaction(() => {
      this.fail(runId, reason, stderrTail);
      const { autoRetries } = this.runs.require(runId);
      if (autoRetries >= maxRetries) return false;
      this.ctx.stmt(`UPDATE runs SET auto_retries = auto_retries + 1 WHERE id = ?`).run(runId);
      this.requeue(runId);
      this.logs.add(runId, 'warn', `retrying automatically (${autoRetries + 1} of ${maxRetries}) after: ${reason}`);
      return true;
    })();
  }

  /** Puts an interrupted, failed, diverged or cancelled run back in the queue (run-states.ts); the earlier outcome stays in its log. */
  requeue(runId: number): RunRecord {
    const before = this.runs.require(runId);
    const run = this.move(runId, 'queued', {
      device: null,
      error_reason: null,
      finished_at: null,
      final_test_acc: null,
      best_test_acc: null,
      final_test_loss: null,
      epochs_completed: null,
    });
    this.logs.add(runId, 'info', `requeued after ${before.status}${before.errorReason ? `: ${before.errorReason}` : ''}`);
    return run;
  }

  private startColumns(device: string): Record<string, SetValue> {
    return { device, started_at: this.ctx.now(), finished_at: null, error_reason: null, attempts: { sql: 'attempts + 1' } };
  }

  /** Moves one run to `to`, or throws InvalidTransitionError naming its status and the ones `to` allows. */
  private move(runId: number, to: RunStatus, sets: Record<string, SetValue>): RunRecord {
    const [row] = this.writeStatus(to, { sql: 'id = @runId', params: { runId } }, sets);
    if (row) return toRunRecord(row);
    const current = this.runs.require(runId);
    throw new InvalidTransitionError(runId, current.status, to, this.sources(to));
  }

  /** The one statement that writes `runs.status`: rows of `target` whose status may move to `to` (run-states.ts). */
  private writeStatus(to: RunStatus, target: Target, sets: Record<string, SetValue>): RunRow[] {
    this.ctx.flush();
    const assignments = ['status = @to'];
    const params: Record<string, unknown> = { ...target.params, to };
    for (const [column, value] of Object.entries(sets)) {
      if (value !== null && typeof value === 'object') {
        assignments.push(`${column} = ${value.sql}`);
      } else {
        assignments.push(`${column} = @set_${column}`);
        params[`set_${column}`] = value;
      }
    }
    const from = this.sources(to).map((s) => `'${s}'`).join(', ');
    // a handful of distinct statements (one per transition kind), so the prepared-statement cache holds them
    const sql = `UPDATE runs SET ${assignments.join(', ')} WHERE (${target.sql}) AND status IN (${from}) RETURNING *`;
    return this.ctx.stmt(sql).all(params) as RunRow[];
  }
}
