import type { JournalMark, PendingRows } from './ingest-buffer';
import type { MetricKeys } from './metric-keys';
import type { StoreContext } from './store-context';

/**
 * Records how far into a run's journal the store holds. Only forward within one journal: a batch written late
 * (a flush after another scheduler took the run over) must not move the acknowledgement back, or the next resume
 * would replay events twice. A new journal id (the file was recreated) always replaces the old mark.
 */
export function writeJournalMark(ctx: StoreContext, mark: JournalMark): void {
  ctx.stmt(`
    UPDATE runs SET journal_id = @journal, journal_seq = @seq
    WHERE id = @runId AND (journal_id IS NOT @journal OR journal_seq < @seq)`).run(mark);
}

interface LatestPoint {
  step: number;
  value: number | null;
  time: number;
}

/**
 * Writes one ingest batch in one transaction; latest_metrics gets one upsert per (run, key) however many steps the
 * batch has. The journal marks commit with the rows they cover, so an acknowledged event is always on disk.
 */
export function writeHistoryBatch(ctx: StoreContext, keys: MetricKeys, rows: PendingRows): void {
  const insertMetric = ctx.stmt(`INSERT OR REPLACE INTO metrics (run_id, key_id, step, value, time) VALUES (?, ?, ?, ?, ?)`);
  const upsertLatest = ctx.stmt(`
    INSERT INTO latest_metrics (run_id, key_id, step, value, time) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (run_id, key_id) DO UPDATE SET step = excluded.step, value = excluded.value, time = excluded.time
    WHERE excluded.step >= latest_metrics.step`);
  // OR REPLACE: a statistic or checkpoint reported again (an epoch retrained after a crash) is the same fact
  const insertStats = ctx.stmt(
    `INSERT OR REPLACE INTO norm_stats (run_id, epoch, step, layer, kind, summary_json, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertCheckpoint = ctx.stmt(`INSERT OR REPLACE INTO checkpoints (run_id, epoch, path, reason, time) VALUES (?, ?, ?, ?, ?)`);
  const insertLog = ctx.stmt(`INSERT INTO run_logs (run_id, level, message, time) VALUES (?, ?, ?, ?)`);
  keys.inTransaction(() => {
    const latest = new Map<number, Map<number, LatestPoint>>();
    for (const m of rows.metrics) {
      const keyId = keys.idFor(m.key);
      const value = Number.isNaN(m.value) ? null : m.value;
      insertMetric.run(m.runId, keyId, m.step, value, m.time);
      let perRun = latest.get(m.runId);
      if (!perRun) latest.set(m.runId, (perRun = new Map<number, LatestPoint>()));
      const seen = perRun.get(keyId);
      if (!seen || m.step >= seen.step) perRun.set(keyId, { step: m.step, value, time: m.time });
    }
    for (const [runId, perRun] of latest) {
      for (const [keyId, p] of perRun) upsertLatest.run(runId, keyId, p.step, p.value, p.time);
    }
    for (const s of rows.normStats) insertStats.run(s.runId, s.epoch, s.step, s.layer, s.kind, s.summaryJson, s.time);
    for (const c of rows.checkpoints) insertCheckpoint.run(c.runId, c.epoch, c.path, c.reason, c.time);
    for (const l of rows.logs) insertLog.run(l.runId, l.level, l.message, l.time);
    for (const j of rows.journalMarks) writeJournalMark(ctx, j);
  });
}

/**
 * History rows that say the same thing twice (a statistic or checkpoint of one run recorded more than once), for
 * integrity audits. The unique indexes make these zero; the audit checks rather than assumes it.
 */
export function countDuplicateHistoryRows(ctx: StoreContext): { normStats: number; checkpoints: number } {
  const count = (sql: string) => (ctx.stmt(sql).get() as { n: number | null }).n ?? 0;
  return {
    normStats: count(`SELECT SUM(n - 1) AS n FROM (SELECT COUNT(*) AS n FROM norm_stats GROUP BY run_id, layer, step HAVING n > 1)`),
    checkpoints: count(`SELECT SUM(n - 1) AS n FROM (SELECT COUNT(*) AS n FROM checkpoints GROUP BY run_id, path HAVING n > 1)`),
  };
}
