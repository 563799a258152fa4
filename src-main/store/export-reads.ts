import type Database from 'better-sqlite3';
import { openDatabase } from './connection';
import { pageClause } from './runs';
import { runWhere, toRunRecord, type RunRow } from './run-rows';
import type { MetricExportRow, RunFilter, RunRecord } from './types';

export type MetricTuple = [
  runId: number, sweepId: number, groupKey: string, model: string, seed: number, epoch: number, key: string,
  value: number, time: number,
];

/**
 * Streaming reads for exports, on a second, read-only connection opened on first use: an export of any size
 * neither holds the rows in memory nor blocks ingestion on the writer connection (WAL gives it a stable snapshot).
 */
export class ExportReads {
  private reader: Database.Database | null = null;

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs: number,
  ) {}

  *runs(filter: RunFilter = {}): Generator<RunRecord> {
    const where = runWhere(filter);
    const stmt = this.connection().prepare(`SELECT * FROM runs ${where.sql} ORDER BY id ${pageClause(filter)}`);
    for (const row of stmt.iterate(where.params) as IterableIterator<RunRow>) yield toRunRecord(row);
  }

  /**
   * Metric history for the runs matching `filter` as positional tuples (runId, sweepId, groupKey, model, seed,
   * epoch, key, value, time), ordered by run, epoch, key. Tuples, not objects: building 9M row objects costs
   * more than reading the rows.
   */
  *metricTuples(filter: RunFilter = {}): Generator<MetricTuple> {
    const where = runWhere(filter, 'r');
    // ordered by metrics' primary key prefix (run_id), so SQLite sorts only within one run, never the whole set
    const stmt = this.connection()
      .prepare(`
        SELECT r.id, r.sweep_id, r.group_key, r.model, r.seed, m.step, k.key, m.value, m.time
        FROM metrics m JOIN runs r ON r.id = m.run_id JOIN metric_keys k ON k.id = m.key_id
        ${where.sql}
        ORDER BY m.run_id, m.step, k.key`)
      .raw(true);
    for (const row of stmt.iterate(where.params) as IterableIterator<MetricTuple>) {
      if (row[7] === null) row[7] = NaN;
      yield row;
    }
  }

  /** The same rows as objects, for callers that want names more than speed. */
  *metricRows(filter: RunFilter = {}): Generator<MetricExportRow> {
    for (const [runId, sweepId, groupKey, model, seed, epoch, key, value, time] of this.metricTuples(filter)) {
      yield { runId, sweepId, groupKey, model, seed, epoch, key, value, time };
    }
  }

  close(): void {
    this.reader?.close();
    this.reader = null;
  }

  private connection(): Database.Database {
    this.reader ??= openDatabase(this.file, { readonly: true, busyTimeoutMs: this.busyTimeoutMs });
    return this.reader;
  }
}
