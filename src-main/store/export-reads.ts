import type Database from 'better-sqlite3';
import { openDatabase } from './connection';
import { pageClause } from './runs';
import { runWhere, toRunRecord, type RunRow } from './run-rows';
import type { MetricExportRow, RunFilter, RunRecord } from './types';

/** A run with what its worker reported at start (backend, adapter, parameter count) and its last top-5. */
export interface RunExportRecord {
  run: RunRecord;
  /** Trainable parameters of the model the worker built; null before the run started. */
  numParams: number | null;
  /** The tfjs backend the worker ran on (`wasm`, `tensorflow`, `webgpu`, …); null before the run started. */
  backend: string | null;
  /** The WebGPU adapter's description, when the backend was webgpu. */
  adapter: string | null;
  /** Test top-5 accuracy (fraction) of the run's latest epoch; null when no epoch was evaluated. */
  testAcc5: number | null;
}

/**
 * The worker's `started` event is kept as the run's log line (ingest.ts: "started on <device> with backend
 * <backend>[, resumed after epoch N]; <n> parameters") rather than as columns; these read it back. The store test
 * of the runs CSV writes its runs through the real ingest, so a change to that wording fails there.
 */
const STARTED_LOG = /^started on .+ with backend (\S+?)(?:, resumed after epoch \d+)?; (\d+) parameters$/;
const ADAPTER_LOG = /^WebGPU adapter: (.+?) \(vendor /;

interface RunExportRow extends RunRow {
  started_log: string | null;
  adapter_log: string | null;
  test_acc5: number | null;
}

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

  /** Runs as `runs()` does, each with its start report and latest top-5 (see RunExportRecord), in one query. */
  *runExports(filter: RunFilter = {}): Generator<RunExportRecord> {
    const where = runWhere(filter, 'r');
    // the latest start wins: a resumed run reports again, possibly on another backend
    const stmt = this.connection().prepare(`
      SELECT r.*,
        (SELECT l.message FROM run_logs l WHERE l.run_id = r.id AND l.message LIKE 'started on %' ORDER BY l.id DESC LIMIT 1) AS started_log,
        (SELECT l.message FROM run_logs l WHERE l.run_id = r.id AND l.message LIKE 'WebGPU adapter: %' ORDER BY l.id DESC LIMIT 1) AS adapter_log,
        (SELECT lm.value FROM latest_metrics lm JOIN metric_keys k ON k.id = lm.key_id WHERE lm.run_id = r.id AND k.key = 'test_acc5') AS test_acc5
      FROM runs r ${where.sql} ORDER BY r.id ${pageClause(filter)}`);
    for (const row of stmt.iterate(where.params) as IterableIterator<RunExportRow>) {
      const started = row.started_log === null ? null : STARTED_LOG.exec(row.started_log);
      const adapter = row.adapter_log === null ? null : ADAPTER_LOG.exec(row.adapter_log);
      yield {
        run: toRunRecord(row),
        numParams: started ? Number(started[2]) : null,
        backend: started ? started[1] : null,
        adapter: adapter ? adapter[1] : null,
        testAcc5: row.test_acc5,
      };
    }
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
