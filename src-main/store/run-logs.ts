import type { StoreContext } from './store-context';
import type { LogRecord } from './types';

/** A run's log lines (`run_logs`): what the store itself says about a run, next to what its worker logged. */
export class RunLogs {
  constructor(private readonly ctx: StoreContext) {}

  /** Writes one line at once, outside the ingest buffer (the callers are status changes, already flushed). */
  add(runId: number, level: LogRecord['level'], message: string): void {
    this.ctx.stmt(`INSERT INTO run_logs (run_id, level, message, time) VALUES (?, ?, ?, ?)`).run(runId, level, message, this.ctx.now());
  }

  /** Log lines in order; `afterId` lets a viewer poll for only the new ones. */
  list(runId: number, options: { afterId?: number; limit?: number } = {}): LogRecord[] {
    const rows = this.ctx.stmt(`
      SELECT * FROM run_logs WHERE run_id = @runId AND id > @afterId ORDER BY id LIMIT @limit`).all({
      runId,
      afterId: options.afterId ?? 0,
      limit: options.limit ?? -1,
    }) as { id: number; run_id: number; level: LogRecord['level']; message: string; time: number }[];
    return rows.map((r) => ({ id: r.id, runId: r.run_id, level: r.level, message: r.message, time: r.time }));
  }
}
