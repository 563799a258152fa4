import type Database from 'better-sqlite3';
import { resolve } from 'node:path';
import type { WorkerEvent } from '../../src-worker/protocol';
import { AggregateReads } from './aggregates';
import { Checkpoints } from './checkpoints';
import { openDatabase } from './connection';
import { StoreError } from './errors';
import { ExportReads, type MetricTuple, type RunExportRecord } from './export-reads';
import { ExecutorHandles, type AttachableRunRecord } from './executor-handles';
import { countDuplicateHistoryRows, writeHistoryBatch } from './history-writer';
import { Ingest } from './ingest';
import { IngestBuffer } from './ingest-buffer';
import { acquireLease, readLease, releaseLease, renewLease, type LeaseHolder, type LeaseRecord, type LeaseResult } from './lease';
import { MetricKeys } from './metric-keys';
import { MetricReads } from './metrics';
import { RunLifecycle } from './run-lifecycle';
import { RunLogs } from './run-logs';
import { Runs } from './runs';
import { statementCache, type StoreContext } from './store-context';
import { Sweeps } from './sweeps';
import type {
  AddRunsResult, AggregateFilter, CheckpointRecord, FinalMetrics, GroupAggregate, GroupCurve, LatestMetric,
  LogRecord, MetricExportRow, MetricPoint, NormStatsRecord, RunFilter, RunRecord, RunSpec, RunStatus,
  SweepRecord, SweepSummary,
} from './types';

export type { AttachableRunRecord, MetricTuple };

export interface StoreOptions {
  /** Open for reading only (exports, a second viewer); no migrations, no writes. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Flush the ingest buffer once this many rows are pending (default 5000). */
  flushRows?: number;
  /** Flush the ingest buffer at most this long after the first pending row (default 250 ms). */
  flushMs?: number;
  /** Receives errors of timer-driven flushes (default: written to stderr). The rows stay pending. */
  onFlushError?: (error: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The experiment store: sweeps, runs, their params, metric history, normalization statistics, checkpoints and
 * logs in one SQLite file. Everything else reads and writes through these methods; no SQL lives outside
 * src-main/store. This class only wires the parts together (one module per concern) and makes reads flush the
 * ingest buffer first, so a reader never misses history that is only in memory.
 */
export class ExperimentStore {
  readonly file: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly ctx: StoreContext;
  private readonly buffer: IngestBuffer;
  private readonly sweeps: Sweeps;
  private readonly runs: Runs;
  private readonly logs: RunLogs;
  private readonly lifecycle: RunLifecycle;
  private readonly handles: ExecutorHandles;
  private readonly ingest: Ingest;
  private readonly metricReads: MetricReads;
  private readonly checkpoints: Checkpoints;
  private readonly aggregateReads: AggregateReads;
  private readonly exportReads: ExportReads;
  private readonly now: () => number;
  private closed = false;

  private constructor(file: string, db: Database.Database, options: StoreOptions) {
    this.file = file;
    this.db = db;
    this.readonly = options.readonly ?? false;
    this.now = options.now ?? Date.now;
    const ctx: StoreContext = {
      db,
      file,
      now: this.now,
      stmt: statementCache(db),
      flush: () => (this.readonly ? 0 : this.buffer.flush()),
    };
    this.ctx = ctx;
    const metricKeys = new MetricKeys(ctx);
    this.buffer = new IngestBuffer((rows) => writeHistoryBatch(ctx, metricKeys, rows), {
      maxRows: options.flushRows ?? 5000,
      maxDelayMs: options.flushMs ?? 250,
      onError:
        options.onFlushError ??
        ((error) => process.stderr.write(`normlab store ${file}: flush failed, will retry: ${String(error)}\n`)),
    });
    this.sweeps = new Sweeps(ctx);
    this.runs = new Runs(ctx, this.sweeps);
    this.logs = new RunLogs(ctx);
    this.lifecycle = new RunLifecycle(ctx, this.runs, this.logs);
    this.handles = new ExecutorHandles(ctx);
    this.ingest = new Ingest(ctx, this.buffer, this.runs, this.lifecycle, this.logs);
    this.metricReads = new MetricReads(ctx);
    this.checkpoints = new Checkpoints(ctx);
    this.aggregateReads = new AggregateReads(db, metricKeys);
    this.exportReads = new ExportReads(file, options.busyTimeoutMs ?? 5000);
  }

  /** Opens (creating and migrating if needed) the store file; throws StoreOpenError naming file and problem. */
  static open(file: string, options: StoreOptions = {}): ExperimentStore {
    const db = openDatabase(file, { readonly: options.readonly, busyTimeoutMs: options.busyTimeoutMs });
    // the path, not db.name: a store in a read-only folder is opened by a `file:…?immutable=1` URI
    return new ExperimentStore(resolve(file), db, options);
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Random, written when the store was created; names the store's checkpoint folder. */
  get storeId(): string {
    const row = this.ctx.stmt(`SELECT value FROM store_meta WHERE key = 'store_id'`).get() as { value: string } | undefined;
    if (!row) throw new StoreError(`${this.file} has no store id (store_meta is empty)`);
    return row.value;
  }

  // ---------------------------------------------------------------- the scheduler lease (lease.ts)

  /** Takes the scheduling lease unless a live holder has it (see lease.ts). */
  acquireLease(me: LeaseHolder, isDead: (holder: LeaseRecord) => boolean): LeaseResult {
    return acquireLease(this.db, me, this.now(), isDead);
  }

  /** False when the lease has been taken over: the caller must stop scheduling at once. */
  renewLease(owner: string): boolean {
    return renewLease(this.db, owner, this.now());
  }

  releaseLease(owner: string): void {
    releaseLease(this.db, owner);
  }

  /** Who schedules this store's runs right now (null: nobody). */
  lease(): LeaseRecord | null {
    return readLease(this.db);
  }

  /** Writes pending rows, then closes. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.readonly) this.buffer.flush();
    } finally {
      this.buffer.dispose();
      this.closed = true;
      this.exportReads.close();
      this.db.close();
    }
  }

  // ---------------------------------------------------------------- sweeps (sweeps.ts)

  /**
   * Creates the sweep, or returns the one with this name (its spec and priority updated to what is given), so
   * re-submitting a sweep spec adds to the same sweep instead of starting a twin.
   */
  upsertSweep(input: { name: string; spec: unknown; priority?: number }): { sweep: SweepRecord; created: boolean } {
    return this.sweeps.upsert(input);
  }

  getSweep(id: number): SweepRecord | undefined {
    return this.sweeps.get(id);
  }

  findSweepByName(name: string): SweepRecord | undefined {
    return this.sweeps.findByName(name);
  }

  listSweeps(): SweepSummary[] {
    return this.sweeps.list();
  }

  // ---------------------------------------------------------------- runs (runs.ts)

  /**
   * Adds runs to a sweep, each at most once per (sweep, config group, seed): a spec already present is reported
   * with its current status and left untouched, whatever that status is.
   */
  addRuns(sweepId: number, specs: readonly RunSpec[], options: { priority?: number } = {}): AddRunsResult {
    return this.runs.add(sweepId, specs, options);
  }

  getRun(id: number): RunRecord | undefined {
    return this.runs.get(id);
  }

  listRuns(filter: RunFilter = {}): RunRecord[] {
    return this.runs.list(filter);
  }

  countRuns(filter: RunFilter = {}): number {
    return this.runs.count(filter);
  }

  /** Params as recorded at insert: the resolved spec's fields as text. */
  getParams(runId: number): Record<string, string> {
    return this.runs.params(runId);
  }

  // ---------------------------------------------------------------- status changes (run-lifecycle.ts, run-states.ts)

  /**
   * Takes the next queued run (highest priority, then oldest) and marks it running on `device`, in one UPDATE,
   * so two schedulers sharing the file can never claim the same run.
   */
  claimNext(device: string, owner: string | null = null): RunRecord | undefined {
    return this.lifecycle.claimNext(device, owner);
  }

  /**
   * Fixes where a run's checkpoints and journal live, the first time it is claimed; later calls return the folder
   * recorded then, so a run never moves away from its own checkpoints.
   */
  assignCheckpointDir(runId: number, dir: string): string {
    return this.checkpoints.assignDir(runId, dir);
  }

  /** Marks one particular queued run running (a one-off run started outside the queue). */
  markRunning(runId: number, device: string): RunRecord {
    return this.lifecycle.markRunning(runId, device);
  }

  // ---------------------------------------------------------------- runs that outlive their manager (executor-handles.ts)

  /** Records the executor's handle (a Slurm job id) of a run; it stays with the run after it ends. */
  recordExecutorHandle(runId: number, handle: string): void {
    this.handles.record(runId, handle);
  }

  /** Runs still `running` that have a recorded handle, whoever placed them. */
  attachableRuns(): AttachableRunRecord[] {
    return this.handles.attachable();
  }

  /** Makes `owner` the owner of a run that is still `running`; false when it is not (it ended meanwhile). */
  adoptRun(runId: number, owner: string): boolean {
    return this.handles.adopt(runId, owner);
  }

  /** Where a running run trains once the executor knows (the node Slurm gave its job). */
  setRunDevice(runId: number, device: string): void {
    this.handles.setDevice(runId, device);
  }

  finishRun(runId: number, metrics: FinalMetrics): RunRecord {
    return this.lifecycle.finish(runId, metrics);
  }

  divergeRun(runId: number, reason: string, metrics?: FinalMetrics): RunRecord {
    return this.lifecycle.diverge(runId, reason, metrics);
  }

  /** A run that could not complete: crashed worker, bad spec at start, out of memory. */
  failRun(runId: number, reason: string, stderrTail?: string): RunRecord {
    return this.lifecycle.fail(runId, reason, stderrTail);
  }

  cancelRun(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.lifecycle.cancel(runId, metrics);
  }

  /** The worker checkpointed to be resumed (Ctrl-C, the app quitting): the run waits for the next start. */
  interruptRun(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.lifecycle.interrupt(runId, metrics);
  }

  /**
   * Runs still marked running by another scheduler were cut off when it died. Only a scheduler that holds the
   * lease may call this (the lease is what proves the others dead). Returns the ids.
   */
  markInterruptedAtStartup(owner: string | null = null): number[] {
    return this.lifecycle.markInterruptedAtStartup(owner);
  }

  /** Every run waiting to be resumed, oldest first. */
  interruptedRunIds(): number[] {
    return this.lifecycle.interruptedRunIds();
  }

  /**
   * A worker that was killed (OOM killer, kill -9) should not need a click: the run is recorded failed, then
   * requeued while it has automatic retries left. Returns whether it was requeued.
   */
  failOrRetry(runId: number, reason: string, stderrTail: string, maxRetries: number): boolean {
    return this.lifecycle.failOrRetry(runId, reason, stderrTail, maxRetries);
  }

  /** Puts an interrupted, failed, diverged or cancelled run back in the queue (run-states.ts); the earlier outcome stays in its log. */
  requeue(runId: number): RunRecord {
    return this.lifecycle.requeue(runId);
  }

  // ---------------------------------------------------------------- ingest (ingest.ts, ingest-buffer.ts)

  /**
   * Records one worker event for `runId`. History (metrics, statistics, checkpoints, logs) goes through the
   * ingest buffer; `done` flushes it and changes the status in the same call. Progress events are live-only and
   * not stored. Throws IngestError, writing nothing of the event, when it cannot be recorded.
   */
  apply(runId: number, event: WorkerEvent): void {
    this.ingest.apply(runId, event);
  }

  /** Records one step's metrics (the `epoch` event's path, also open to callers with their own metric keys). */
  ingestMetrics(runId: number, step: number, metrics: Record<string, number | undefined>): void {
    this.ingest.ingestMetrics(runId, step, metrics);
  }

  /** Writes one line to a run's log at once (what the store or the scheduler has to say about the run). */
  addRunLog(runId: number, level: LogRecord['level'], message: string): void {
    this.runs.require(runId);
    this.ctx.flush();
    this.logs.add(runId, level, message);
  }

  /** Writes all pending history now; returns the number of rows written. */
  flush(): number {
    return this.ctx.flush();
  }

  get pendingRows(): number {
    return this.buffer.pendingRows;
  }

  // ---------------------------------------------------------------- history reads (metrics.ts, checkpoints.ts, run-logs.ts)

  getMetrics(runId: number, key?: string): Record<string, MetricPoint[]> {
    this.readyToRead(runId);
    return this.metricReads.history(runId, key);
  }

  getLatestMetrics(runId: number): Record<string, LatestMetric> {
    this.readyToRead(runId);
    return this.metricReads.latest(runId);
  }

  getNormStats(runId: number, layer?: string): NormStatsRecord[] {
    this.readyToRead(runId);
    return this.metricReads.normStats(runId, layer);
  }

  /** Layers that have statistics, in the order they were first recorded. */
  listNormLayers(runId: number): { layer: string; kind: NormStatsRecord['kind'] }[] {
    this.flush();
    return this.metricReads.normLayers(runId);
  }

  getCheckpoints(runId: number): CheckpointRecord[] {
    this.readyToRead(runId);
    return this.checkpoints.list(runId);
  }

  /** The checkpoint a resumed run should start from: highest epoch, latest written on a tie. */
  latestCheckpoint(runId: number): CheckpointRecord | undefined {
    this.readyToRead(runId);
    return this.checkpoints.latest(runId);
  }

  /** Log lines in order; `afterId` lets a viewer poll for only the new ones. */
  getLogs(runId: number, options: { afterId?: number; limit?: number } = {}): LogRecord[] {
    this.readyToRead(runId);
    return this.logs.list(runId, options);
  }

  /**
   * History rows that say the same thing twice (a statistic or checkpoint of one run recorded more than once), for
   * integrity audits. The unique indexes make these zero; the audit checks rather than assumes it.
   */
  duplicateHistoryRows(): { normStats: number; checkpoints: number } {
    this.flush();
    return countDuplicateHistoryRows(this.ctx);
  }

  // ---------------------------------------------------------------- aggregates (aggregates.ts)

  /** Mean ± sample SD per config group over finished runs (see queryAggregates). */
  aggregates(filter: AggregateFilter = {}): GroupAggregate[] {
    this.flush();
    return this.aggregateReads.aggregates(filter);
  }

  /** Per-epoch mean ± SD of `metric` for each group, over runs in `statuses` (default: finished). */
  curves(groupKeys: readonly string[], metric: string, statuses: readonly RunStatus[] = ['finished']): GroupCurve[] {
    this.flush();
    return this.aggregateReads.curves(groupKeys, metric, statuses);
  }

  // ---------------------------------------------------------------- streaming reads for export (export-reads.ts)

  /**
   * Runs matching `filter`, read lazily on a separate read-only connection, so an export of any size neither
   * holds the rows in memory nor blocks ingestion on the main connection (WAL gives it a stable snapshot).
   */
  *iterateRuns(filter: RunFilter = {}): Generator<RunRecord> {
    this.flush();
    yield* this.exportReads.runs(filter);
  }

  /** Runs with their worker's start report (backend, adapter, parameter count) and latest top-5, for the runs CSV. */
  *iterateRunExports(filter: RunFilter = {}): Generator<RunExportRecord> {
    this.flush();
    yield* this.exportReads.runExports(filter);
  }

  /**
   * Metric history for the runs matching `filter` as positional tuples (runId, sweepId, groupKey, model, seed,
   * epoch, key, value, time), ordered by run, epoch, key. Tuples, not objects: building 9M row objects costs
   * more than reading the rows.
   */
  *iterateMetricTuples(filter: RunFilter = {}): Generator<MetricTuple> {
    this.flush();
    yield* this.exportReads.metricTuples(filter);
  }

  /** The same rows as objects, for callers that want names more than speed. */
  *iterateMetricRows(filter: RunFilter = {}): Generator<MetricExportRow> {
    this.flush();
    yield* this.exportReads.metricRows(filter);
  }

  /** Pending history written, and the run known (RunNotFoundError otherwise). */
  private readyToRead(runId: number): void {
    this.flush();
    this.runs.require(runId);
  }
}
