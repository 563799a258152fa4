import type Database from 'better-sqlite3';
import { resolve } from 'node:path';
import { parseRunSpec } from '../../src-worker/run-spec';
import type { WorkerEvent } from '../../src-worker/protocol';
import { queryAggregates, queryCurves, readGroupInfo, type GroupInfo } from './aggregates';
import { openDatabase } from './connection';
import { IngestError, InvalidTransitionError, RunNotFoundError, StoreError } from './errors';
import { transitionSources } from './run-states';
import { canonicalJson, configGroupKey, groupConfig, runKey } from './group-key';
import { IngestBuffer, type MetricRow, type PendingRows } from './ingest-buffer';
import { toRunRecord, runWhere, type RunRow } from './run-rows';
import { acquireLease, readLease, releaseLease, renewLease, type LeaseHolder, type LeaseRecord, type LeaseResult } from './lease';
import { RUN_STATUSES } from './types';
import type {
  AddRunsResult, AggregateFilter, CheckpointRecord, FinalMetrics, GroupAggregate, GroupCurve, LatestMetric,
  LogRecord, MetricExportRow, MetricPoint, NormStatsRecord, RunFilter, RunRecord, RunSpec, RunStatus,
  SweepRecord, SweepSummary,
} from './types';

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

const CHECKPOINT_REASONS = new Set(['periodic', 'cancel', 'final']);
const LOG_LEVELS = new Set(['info', 'warn', 'error']);
const NORM_KINDS = new Set(['kn', 'bn', 'gn', 'ln']);

const STDERR_TAIL_CHARS = 8000;

/**
 * The experiment store: sweeps, runs, their params, metric history, normalization statistics, checkpoints and
 * logs in one SQLite file. Everything else reads and writes through these methods; no SQL lives outside
 * src-main/store.
 */
export class ExperimentStore {
  readonly file: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readerDb: Database.Database | null = null;
  private readonly buffer: IngestBuffer;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly metricKeyIds = new Map<string, number>();
  private readonly knownRunIds = new Set<number>();
  /** Per run, the newest journal position accepted (buffered or written); events at or before it are skipped. */
  private readonly journalMarks = new Map<number, { journal: string | null; seq: number }>();
  /** config_groups rows never change once written, so they can be kept for the life of the store. */
  private readonly groupInfo = new Map<string, GroupInfo>();
  private readonly now: () => number;
  private readonly busyTimeoutMs: number;
  private closed = false;

  private constructor(file: string, db: Database.Database, options: StoreOptions) {
    this.file = file;
    this.db = db;
    this.readonly = options.readonly ?? false;
    this.now = options.now ?? Date.now;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.buffer = new IngestBuffer((rows) => this.writeBatch(rows), {
      maxRows: options.flushRows ?? 5000,
      maxDelayMs: options.flushMs ?? 250,
      onError:
        options.onFlushError ??
        ((error) => process.stderr.write(`normlab store ${file}: flush failed, will retry: ${String(error)}\n`)),
    });
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
    const row = this.stmt(`SELECT value FROM store_meta WHERE key = 'store_id'`).get() as { value: string } | undefined;
    if (!row) throw new StoreError(`${this.file} has no store id (store_meta is empty)`);
    return row.value;
  }

  // ---------------------------------------------------------------- the scheduler lease

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
      this.readerDb?.close();
      this.db.close();
    }
  }

  // ---------------------------------------------------------------- sweeps

  /**
   * Creates the sweep, or returns the one with this name (its spec and priority updated to what is given), so
   * re-submitting a sweep spec adds to the same sweep instead of starting a twin.
   */
  upsertSweep(input: { name: string; spec: unknown; priority?: number }): { sweep: SweepRecord; created: boolean } {
    const now = this.now();
    const existing = this.sweepRowByName(input.name);
    if (existing) {
      this.stmt(`UPDATE sweeps SET spec_json = ?, priority = ?, updated_at = ? WHERE id = ?`).run(
        JSON.stringify(input.spec),
        input.priority ?? existing.priority,
        now,
        existing.id,
      );
      return { sweep: this.getSweep(existing.id)!, created: false };
    }
    const info = this.stmt(
      `INSERT INTO sweeps (name, spec_json, priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(input.name, JSON.stringify(input.spec), input.priority ?? 0, now, now);
    return { sweep: this.getSweep(Number(info.lastInsertRowid))!, created: true };
  }

  getSweep(id: number): SweepRecord | undefined {
    const row = this.stmt(`SELECT * FROM sweeps WHERE id = ?`).get(id) as SweepRow | undefined;
    return row && toSweepRecord(row);
  }

  findSweepByName(name: string): SweepRecord | undefined {
    const row = this.sweepRowByName(name);
    return row && toSweepRecord(row);
  }

  listSweeps(): SweepSummary[] {
    const sweeps = (this.stmt(`SELECT * FROM sweeps ORDER BY id`).all() as SweepRow[]).map(toSweepRecord);
    const counts = this.stmt(`SELECT sweep_id, status, COUNT(*) AS n FROM runs GROUP BY sweep_id, status`).all() as {
      sweep_id: number;
      status: RunStatus;
      n: number;
    }[];
    return sweeps.map((sweep) => {
      const runCounts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
      for (const c of counts) if (c.sweep_id === sweep.id) runCounts[c.status] = c.n;
      return { ...sweep, runCounts, totalRuns: Object.values(runCounts).reduce((a, b) => a + b, 0) };
    });
  }

  // ---------------------------------------------------------------- runs

  /**
   * Adds runs to a sweep, each at most once per (sweep, config group, seed): a spec already present is reported
   * with its current status and left untouched, whatever that status is.
   */
  addRuns(sweepId: number, specs: readonly RunSpec[], options: { priority?: number } = {}): AddRunsResult {
    const sweep = this.getSweep(sweepId);
    if (!sweep) throw new StoreError(`sweep ${sweepId} does not exist`);
    const priority = options.priority ?? sweep.priority;
    const insert = this.stmt(`
      INSERT INTO runs (sweep_id, group_key, run_key, model, dataset, seed, lr, batch_size, epochs, status,
                        priority, spec_json, created_at)
      VALUES (@sweepId, @groupKey, @runKey, @model, @dataset, @seed, @lr, @batchSize, @epochs, 'queued',
              @priority, @specJson, @now)
      ON CONFLICT (sweep_id, run_key) DO NOTHING
      RETURNING id`);
    const find = this.stmt(`SELECT id, status FROM runs WHERE sweep_id = ? AND run_key = ?`);
    const insertParam = this.stmt(`INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)`);
    const insertGroup = this.stmt(`
      INSERT INTO config_groups (group_key, model, dataset, lr, batch_size, epochs, config_json)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_key) DO NOTHING`);
    const now = this.now();
    return this.db.transaction((): AddRunsResult => {
      const result: AddRunsResult = { runs: [], created: 0, existing: 0 };
      for (const given of specs) {
        const { runId: _ignored, ...spec } = parseRunSpec(given);
        const key = runKey(spec);
        const groupKey = configGroupKey(spec);
        const inserted = insert.get({
          sweepId,
          groupKey,
          runKey: key,
          model: spec.model,
          dataset: spec.dataset,
          seed: spec.seed,
          lr: spec.lr,
          batchSize: spec.batchSize,
          epochs: spec.epochs,
          priority,
          specJson: JSON.stringify(spec),
          now,
        }) as { id: number } | undefined;
        if (inserted) {
          insertGroup.run(groupKey, spec.model, spec.dataset, spec.lr, spec.batchSize, spec.epochs, canonicalJson(groupConfig(spec)));
          for (const [name, value] of Object.entries(spec)) {
            if (value !== undefined) insertParam.run(inserted.id, name, paramText(value));
          }
          this.knownRunIds.add(inserted.id);
          result.runs.push({ id: inserted.id, created: true, status: 'queued' });
          result.created++;
        } else {
          const row = find.get(sweepId, key) as { id: number; status: RunStatus };
          result.runs.push({ id: row.id, created: false, status: row.status });
          result.existing++;
        }
      }
      return result;
    })();
  }

  getRun(id: number): RunRecord | undefined {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row && toRunRecord(row);
  }

  listRuns(filter: RunFilter = {}): RunRecord[] {
    const where = runWhere(filter);
    const page = pageClause(filter);
    const rows = this.db.prepare(`SELECT * FROM runs ${where.sql} ORDER BY id ${page}`).all(where.params) as RunRow[];
    return rows.map(toRunRecord);
  }

  countRuns(filter: RunFilter = {}): number {
    const where = runWhere(filter);
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM runs ${where.sql}`).get(where.params) as { n: number }).n;
  }

  /** Params as recorded at insert: the resolved spec's fields as text. */
  getParams(runId: number): Record<string, string> {
    this.requireRun(runId);
    const rows = this.stmt(`SELECT key, value FROM params WHERE run_id = ? ORDER BY key`).all(runId) as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  // ---------------------------------------------------------------- status transitions

  /**
   * Takes the next queued run (highest priority, then oldest) and marks it running on `device`, in one UPDATE,
   * so two schedulers sharing the file can never claim the same run.
   */
  claimNext(device: string, owner: string | null = null): RunRecord | undefined {
    this.flush();
    const row = this.stmt(`
      UPDATE runs SET status = 'running', device = @device, attempts = attempts + 1, started_at = @now,
                      finished_at = NULL, error_reason = NULL, owner = @owner
      WHERE id = (SELECT id FROM runs WHERE status = 'queued' ORDER BY priority DESC, id ASC LIMIT 1)
      RETURNING *`).get({ device, now: this.now(), owner }) as RunRow | undefined;
    return row && toRunRecord(row);
  }

  /**
   * Fixes where a run's checkpoints and journal live, the first time it is claimed; later calls return the folder
   * recorded then, so a run never moves away from its own checkpoints.
   */
  assignCheckpointDir(runId: number, dir: string): string {
    const row = this.stmt(`
      UPDATE runs SET checkpoint_dir = COALESCE(checkpoint_dir, @dir) WHERE id = @runId RETURNING checkpoint_dir`).get({ runId, dir }) as
      { checkpoint_dir: string } | undefined;
    if (!row) throw new RunNotFoundError(runId);
    return row.checkpoint_dir;
  }

  /** Marks one particular queued run running (a one-off run started outside the queue). */
  markRunning(runId: number, device: string): RunRecord {
    return this.transition(runId, 'running', transitionSources('running'), {
      device,
      started_at: this.now(),
      finished_at: null,
      error_reason: null,
      attempts: { sql: 'attempts + 1' },
    });
  }

  finishRun(runId: number, metrics: FinalMetrics): RunRecord {
    return this.transition(runId, 'finished', transitionSources('finished'), { ...finalColumns(metrics), finished_at: this.now() });
  }

  divergeRun(runId: number, reason: string, metrics?: FinalMetrics): RunRecord {
    return this.transition(runId, 'diverged', transitionSources('diverged'), {
      ...(metrics ? finalColumns(metrics) : {}),
      error_reason: reason,
      finished_at: this.now(),
    });
  }

  /** A run that could not complete: crashed worker, bad spec at start, out of memory. */
  failRun(runId: number, reason: string, stderrTail?: string): RunRecord {
    const sets: Record<string, SetValue> = { error_reason: reason, finished_at: this.now() };
    if (stderrTail !== undefined) sets.stderr_tail = stderrTail.slice(-STDERR_TAIL_CHARS);
    return this.transition(runId, 'failed', transitionSources('failed'), sets);
  }

  cancelRun(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.transition(runId, 'cancelled', transitionSources('cancelled'), {
      ...(metrics ? finalColumns(metrics) : {}),
      finished_at: this.now(),
    });
  }

  /** The worker checkpointed to be resumed (Ctrl-C, the app quitting): the run waits for the next start. */
  interruptRun(runId: number, metrics?: FinalMetrics): RunRecord {
    return this.transition(runId, 'interrupted', transitionSources('interrupted'), {
      ...(metrics ? finalColumns(metrics) : {}),
      error_reason: 'stopped for now; it resumes from its checkpoint on the next start',
    });
  }

  /**
   * Runs still marked running by another scheduler were cut off when it died. Only a scheduler that holds the
   * lease may call this (the lease is what proves the others dead). Returns the ids.
   */
  markInterruptedAtStartup(owner: string | null = null): number[] {
    this.flush();
    const rows = this.stmt(`
      UPDATE runs SET status = 'interrupted', error_reason = 'the process running it exited before it finished'
      WHERE status = 'running' AND (owner IS NULL OR @owner IS NULL OR owner != @owner) RETURNING id`).all({ owner }) as { id: number }[];
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Every run waiting to be resumed, oldest first. */
  interruptedRunIds(): number[] {
    return (this.stmt(`SELECT id FROM runs WHERE status = 'interrupted' ORDER BY id`).all() as { id: number }[]).map((r) => r.id);
  }

  /**
   * A worker that was killed (OOM killer, kill -9) should not need a click: the run is recorded failed, then
   * requeued while it has automatic retries left. Returns whether it was requeued.
   */
  failOrRetry(runId: number, reason: string, stderrTail: string, maxRetries: number): boolean {
    this.flush();
    return this.db.transaction(() => {
      this.failRun(runId, reason, stderrTail);
      const { autoRetries } = this.requireRun(runId);
      if (autoRetries >= maxRetries) return false;
      this.stmt(`UPDATE runs SET auto_retries = auto_retries + 1 WHERE id = ?`).run(runId);
      this.requeue(runId);
      this.addLogNow(runId, 'warn', `retrying automatically (${autoRetries + 1} of ${maxRetries}) after: ${reason}`);
      return true;
    })();
  }

  /** Puts an interrupted, failed, diverged or cancelled run back in the queue (run-states.ts); the earlier outcome stays in its log. */
  requeue(runId: number): RunRecord {
    const before = this.requireRun(runId);
    const run = this.transition(runId, 'queued', transitionSources('queued'), {
      device: null,
      error_reason: null,
      finished_at: null,
      final_test_acc: null,
      best_test_acc: null,
      final_test_loss: null,
      epochs_completed: null,
    });
    this.addLogNow(runId, 'info', `requeued after ${before.status}${before.errorReason ? `: ${before.errorReason}` : ''}`);
    return run;
  }

  // ---------------------------------------------------------------- ingest

  /**
   * Records one worker event for `runId`. History (metrics, statistics, checkpoints, logs) goes through the
   * ingest buffer; `done` flushes it and changes the status in the same call. Progress events are live-only and
   * not stored. Throws IngestError, writing nothing of the event, when it cannot be recorded.
   */
  apply(runId: number, event: WorkerEvent): void {
    if (event.runId !== undefined && event.runId !== runId) {
      throw new IngestError(`event ${event.event} is for run ${event.runId}, not run ${runId}`);
    }
    this.requireKnownRun(runId);
    const stamp = event.journal !== undefined && event.seq !== undefined ? { runId, journal: event.journal, seq: event.seq } : null;
    if (stamp) {
      // a replayed journal event the store already has: ingest is idempotent
      const mark = this.journalMark(runId);
      if (mark.journal === stamp.journal && stamp.seq <= mark.seq) return;
    }
    if (event.event === 'done' || event.event === 'error') {
      // these change the run row directly: the row change and the journal mark commit together, after
      // everything buffered before them
      this.flush();
      this.db.transaction(() => {
        this.applyDirect(runId, event);
        if (stamp) this.stmt(`UPDATE runs SET journal_id = ?, journal_seq = ? WHERE id = ?`).run(stamp.journal, stamp.seq, runId);
      })();
    } else {
      this.applyBuffered(runId, event);
      if (stamp) this.buffer.addJournalMark(stamp);
    }
    if (stamp) this.journalMarks.set(runId, { journal: stamp.journal, seq: stamp.seq });
  }

  private journalMark(runId: number): { journal: string | null; seq: number } {
    let mark = this.journalMarks.get(runId);
    if (!mark) {
      const row = this.stmt(`SELECT journal_id, journal_seq FROM runs WHERE id = ?`).get(runId) as { journal_id: string | null; journal_seq: number };
      mark = { journal: row.journal_id, seq: row.journal_seq };
      this.journalMarks.set(runId, mark);
    }
    return mark;
  }

  private applyDirect(runId: number, event: Extract<WorkerEvent, { event: 'done' | 'error' }>): void {
    if (event.event === 'done') {
      this.recordDone(runId, event);
      return;
    }
    this.stmt(`UPDATE runs SET error_reason = ? WHERE id = ?`).run(event.reason, runId);
    this.addLogNow(runId, 'error', event.detail ? `${event.reason}\n${event.detail}` : event.reason);
  }

  private addLogNow(runId: number, level: LogRecord['level'], message: string): void {
    this.stmt(`INSERT INTO run_logs (run_id, level, message, time) VALUES (?, ?, ?, ?)`).run(runId, level, message, this.now());
  }

  private applyBuffered(runId: number, event: Exclude<WorkerEvent, { event: 'done' | 'error' }>): void {
    const time = this.now();
    switch (event.event) {
      case 'started':
        this.recordStarted(runId, event, time);
        return;
      case 'progress':
        return;
      case 'epoch':
        this.ingestMetrics(runId, event.epoch, event.metrics as unknown as Record<string, number | undefined>);
        return;
      case 'norm_stats':
        for (const layer of event.layers) {
          if (!NORM_KINDS.has(layer.kind)) {
            throw new IngestError(`run ${runId}: norm_stats layer ${layer.layer} has unknown kind "${layer.kind}"`);
          }
        }
        this.buffer.addNormStats(
          event.layers.map((layer) => ({
            runId, epoch: event.epoch, step: event.step, layer: layer.layer, kind: layer.kind,
            summaryJson: JSON.stringify({ mean: layer.mean, std: layer.std }), time,
          })),
        );
        return;
      case 'checkpoint':
        if (!CHECKPOINT_REASONS.has(event.reason)) {
          throw new IngestError(`run ${runId}: checkpoint reason "${event.reason}" is not periodic, cancel or final`);
        }
        this.buffer.addCheckpoint({ runId, epoch: event.epoch, path: event.path, reason: event.reason, time });
        return;
      case 'log':
        if (!LOG_LEVELS.has(event.level)) {
          throw new IngestError(`run ${runId}: log level "${event.level}" is not info, warn or error`);
        }
        this.buffer.addLog({ runId, level: event.level, message: event.message, time });
        return;
      default: {
        const unknown: never = event;
        throw new IngestError(`run ${runId}: unknown event ${JSON.stringify((unknown as { event?: unknown }).event)}`);
      }
    }
  }

  /** Records one step's metrics (the `epoch` event's path, also open to callers with their own metric keys). */
  ingestMetrics(runId: number, step: number, metrics: Record<string, number | undefined>): void {
    this.requireKnownRun(runId);
    if (!Number.isInteger(step) || step < 0) throw new IngestError(`run ${runId}: step ${step} is not an integer ≥ 0`);
    const time = this.now();
    const rows: MetricRow[] = [];
    for (const key in metrics) {
      const value = metrics[key];
      if (value === undefined) continue;
      if (typeof value !== 'number') throw new IngestError(`run ${runId}: metric ${key} is not a number`);
      rows.push({ runId, key, step, value, time });
    }
    this.buffer.addMetrics(rows);
  }

  /** Writes all pending history now; returns the number of rows written. */
  flush(): number {
    if (this.readonly) return 0;
    return this.buffer.flush();
  }

  get pendingRows(): number {
    return this.buffer.pendingRows;
  }

  // ---------------------------------------------------------------- history reads

  getMetrics(runId: number, key?: string): Record<string, MetricPoint[]> {
    this.flush();
    this.requireRun(runId);
    const rows = this.stmt(`
      SELECT k.key, m.step, m.value, m.time FROM metrics m JOIN metric_keys k ON k.id = m.key_id
      WHERE m.run_id = @runId AND (@key IS NULL OR k.key = @key) ORDER BY k.key, m.step`).all({
      runId,
      key: key ?? null,
    }) as { key: string; step: number; value: number | null; time: number }[];
    const out: Record<string, MetricPoint[]> = {};
    for (const r of rows) (out[r.key] ??= []).push({ step: r.step, value: r.value ?? NaN, time: r.time });
    return out;
  }

  getLatestMetrics(runId: number): Record<string, LatestMetric> {
    this.flush();
    this.requireRun(runId);
    const rows = this.stmt(`
      SELECT k.key, l.step, l.value, l.time FROM latest_metrics l JOIN metric_keys k ON k.id = l.key_id
      WHERE l.run_id = ? ORDER BY k.key`).all(runId) as { key: string; step: number; value: number | null; time: number }[];
    return Object.fromEntries(rows.map((r) => [r.key, { key: r.key, step: r.step, value: r.value ?? NaN, time: r.time }]));
  }

  getNormStats(runId: number, layer?: string): NormStatsRecord[] {
    this.flush();
    this.requireRun(runId);
    const rows = this.stmt(`
      SELECT * FROM norm_stats WHERE run_id = @runId AND (@layer IS NULL OR layer = @layer)
      ORDER BY step, layer, id`).all({ runId, layer: layer ?? null }) as {
      id: number; run_id: number; epoch: number; step: number; layer: string; kind: NormStatsRecord['kind'];
      summary_json: string; time: number;
    }[];
    return rows.map((r) => {
      const summary = JSON.parse(r.summary_json) as Pick<NormStatsRecord, 'mean' | 'std'>;
      return { id: r.id, runId: r.run_id, epoch: r.epoch, step: r.step, layer: r.layer, kind: r.kind, ...summary, time: r.time };
    });
  }

  /** Layers that have statistics, in the order they were first recorded. */
  listNormLayers(runId: number): { layer: string; kind: NormStatsRecord['kind'] }[] {
    this.flush();
    return this.stmt(`SELECT layer, kind FROM norm_stats WHERE run_id = ? GROUP BY layer ORDER BY MIN(id)`).all(
      runId,
    ) as { layer: string; kind: NormStatsRecord['kind'] }[];
  }

  getCheckpoints(runId: number): CheckpointRecord[] {
    this.flush();
    this.requireRun(runId);
    return (this.stmt(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY epoch, id`).all(runId) as CheckpointRow[]).map(
      toCheckpoint,
    );
  }

  /** The checkpoint a resumed run should start from: highest epoch, latest written on a tie. */
  latestCheckpoint(runId: number): CheckpointRecord | undefined {
    this.flush();
    this.requireRun(runId);
    const row = this.stmt(`SELECT * FROM checkpoints WHERE run_id = ? ORDER BY epoch DESC, id DESC LIMIT 1`).get(
      runId,
    ) as CheckpointRow | undefined;
    return row && toCheckpoint(row);
  }

  /** Log lines in order; `afterId` lets a viewer poll for only the new ones. */
  getLogs(runId: number, options: { afterId?: number; limit?: number } = {}): LogRecord[] {
    this.flush();
    this.requireRun(runId);
    const rows = this.stmt(`
      SELECT * FROM run_logs WHERE run_id = @runId AND id > @afterId ORDER BY id LIMIT @limit`).all({
      runId,
      afterId: options.afterId ?? 0,
      limit: options.limit ?? -1,
    }) as { id: number; run_id: number; level: LogRecord['level']; message: string; time: number }[];
    return rows.map((r) => ({ id: r.id, runId: r.run_id, level: r.level, message: r.message, time: r.time }));
  }

  /**
   * History rows that say the same thing twice (a statistic or checkpoint of one run recorded more than once), for
   * integrity audits. The unique indexes make these zero; the audit checks rather than assumes it.
   */
  duplicateHistoryRows(): { normStats: number; checkpoints: number } {
    this.flush();
    const count = (sql: string) => (this.stmt(sql).get() as { n: number | null }).n ?? 0;
    return {
      normStats: count(`SELECT SUM(n - 1) AS n FROM (SELECT COUNT(*) AS n FROM norm_stats GROUP BY run_id, layer, step HAVING n > 1)`),
      checkpoints: count(`SELECT SUM(n - 1) AS n FROM (SELECT COUNT(*) AS n FROM checkpoints GROUP BY run_id, path HAVING n > 1)`),
    };
  }

  // ---------------------------------------------------------------- aggregates

  /** Mean ± sample SD per config group over finished runs (see queryAggregates). */
  aggregates(filter: AggregateFilter = {}): GroupAggregate[] {
    this.flush();
    return queryAggregates(this.db, filter, (keys) => this.lookupGroupInfo(keys));
  }

  /** Per-epoch mean ± SD of `metric` for each group, over runs in `statuses` (default: finished). */
  curves(groupKeys: readonly string[], metric: string, statuses: readonly RunStatus[] = ['finished']): GroupCurve[] {
    this.flush();
    return queryCurves(this.db, this.lookupMetricKey(metric), groupKeys, metric, statuses);
  }

  // ---------------------------------------------------------------- streaming reads for export

  /**
   * Runs matching `filter`, read lazily on a separate read-only connection, so an export of any size neither
   * holds the rows in memory nor blocks ingestion on the main connection (WAL gives it a stable snapshot).
   */
  *iterateRuns(filter: RunFilter = {}): Generator<RunRecord> {
    this.flush();
    const where = runWhere(filter);
    const stmt = this.reader().prepare(`SELECT * FROM runs ${where.sql} ORDER BY id ${pageClause(filter)}`);
    for (const row of stmt.iterate(where.params) as IterableIterator<RunRow>) yield toRunRecord(row);
  }

  /**
   * Metric history for the runs matching `filter` as positional tuples (runId, sweepId, groupKey, model, seed,
   * epoch, key, value, time), ordered by run, epoch, key. Tuples, not objects: building 9M row objects costs
   * more than reading the rows.
   */
  *iterateMetricTuples(filter: RunFilter = {}): Generator<MetricTuple> {
    this.flush();
    const where = runWhere(filter, 'r');
    // ordered by metrics' primary key prefix (run_id), so SQLite sorts only within one run, never the whole set
    const stmt = this.reader()
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
  *iterateMetricRows(filter: RunFilter = {}): Generator<MetricExportRow> {
    for (const [runId, sweepId, groupKey, model, seed, epoch, key, value, time] of this.iterateMetricTuples(filter)) {
      yield { runId, sweepId, groupKey, model, seed, epoch, key, value, time };
    }
  }

  // ---------------------------------------------------------------- internals

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private reader(): Database.Database {
    this.readerDb ??= openDatabase(this.file, { readonly: true, busyTimeoutMs: this.busyTimeoutMs });
    return this.readerDb;
  }

  private sweepRowByName(name: string): SweepRow | undefined {
    return this.stmt(`SELECT * FROM sweeps WHERE name = ?`).get(name) as SweepRow | undefined;
  }

  private requireRun(runId: number): RunRecord {
    const run = this.getRun(runId);
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  private requireKnownRun(runId: number): void {
    if (this.knownRunIds.has(runId)) return;
    // runs are never deleted, so a run seen once stays valid; the cache saves a lookup per event
    if (!this.stmt(`SELECT 1 FROM runs WHERE id = ?`).get(runId)) {
      throw new IngestError(`run ${runId} does not exist; its events cannot be recorded`);
    }
    this.knownRunIds.add(runId);
  }

  /** Moves a run to `to` if its status is one of `from`; the pending history is written first. */
  private transition(runId: number, to: RunStatus, from: readonly RunStatus[], sets: Record<string, SetValue>): RunRecord {
    this.flush();
    const assignments = ['status = @to'];
    const params: Record<string, unknown> = { runId, to };
    for (const [column, value] of Object.entries(sets)) {
      if (value !== null && typeof value === 'object') {
        assignments.push(`${column} = ${value.sql}`);
      } else {
        assignments.push(`${column} = @${column}`);
        params[column] = value;
      }
    }
    const fromList = from.map((s) => `'${s}'`).join(', ');
    // a handful of distinct statements (one per transition kind), so the prepared-statement cache holds them
    const row = this.stmt(`UPDATE runs SET ${assignments.join(', ')} WHERE id = @runId AND status IN (${fromList}) RETURNING *`).get(
      params,
    ) as RunRow | undefined;
    if (row) return toRunRecord(row);
    const current = this.requireRun(runId);
    throw new InvalidTransitionError(runId, current.status, to, from);
  }

  private recordStarted(runId: number, event: Extract<WorkerEvent, { event: 'started' }>, time: number): void {
    const run = this.requireRun(runId);
    // a one-off run started without a scheduler's claim: the worker's own report is the only start signal
    if (run.status === 'queued') this.markRunning(runId, event.device);
    const resumed = event.resumedFromEpoch > 0 ? `, resumed after epoch ${event.resumedFromEpoch}` : '';
    this.buffer.addLog({
      runId, level: 'info', time,
      message: `started on ${event.device} with backend ${event.backend}${resumed}; ${event.numParams} parameters`,
    });
    if (event.adapter) {
      const a = event.adapter;
      this.buffer.addLog({
        runId, level: a.software ? 'warn' : 'info', time,
        message: `WebGPU adapter: ${a.description} (vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, device ${a.device || '?'})` +
          (a.software ? '; a software adapter: correct but slower than wasm' : ''),
      });
    }
    for (const skipped of event.skippedBackends) {
      this.buffer.addLog({ runId, level: 'warn', time, message: `backend ${skipped.backend} skipped: ${skipped.reason}` });
    }
  }

  private recordDone(runId: number, event: Extract<WorkerEvent, { event: 'done' }>): void {
    switch (event.status) {
      case 'finished':
        this.finishRun(runId, event.metrics);
        return;
      case 'diverged':
        this.divergeRun(runId, 'training diverged (non-finite loss)', event.metrics);
        return;
      case 'cancelled':
        this.cancelRun(runId, event.metrics);
        return;
      case 'interrupted':
        this.interruptRun(runId, event.metrics);
        return;
      case 'failed':
        this.failRun(runId, this.getRun(runId)?.errorReason ?? 'the worker reported failure');
        return;
    }
  }

  private lookupGroupInfo(keys: readonly string[]): Map<string, GroupInfo> {
    const missing = keys.filter((k) => !this.groupInfo.has(k));
    if (missing.length > 0) for (const [k, info] of readGroupInfo(this.db, missing)) this.groupInfo.set(k, info);
    return this.groupInfo;
  }

  private lookupMetricKey(key: string): number | undefined {
    const cached = this.metricKeyIds.get(key);
    if (cached !== undefined) return cached;
    const row = this.stmt(`SELECT id FROM metric_keys WHERE key = ?`).get(key) as { id: number } | undefined;
    if (row) this.metricKeyIds.set(key, row.id);
    return row?.id;
  }

  private metricKeyId(key: string): number {
    const known = this.lookupMetricKey(key);
    if (known !== undefined) return known;
    const id = Number(this.stmt(`INSERT INTO metric_keys (key) VALUES (?)`).run(key).lastInsertRowid);
    this.metricKeyIds.set(key, id);
    return id;
  }

  /** One transaction per batch; latest_metrics gets one upsert per (run, key) however many steps the batch has. */
  private writeBatch(rows: PendingRows): void {
    const insertMetric = this.stmt(
      `INSERT OR REPLACE INTO metrics (run_id, key_id, step, value, time) VALUES (?, ?, ?, ?, ?)`,
    );
    const upsertLatest = this.stmt(`
      INSERT INTO latest_metrics (run_id, key_id, step, value, time) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id, key_id) DO UPDATE SET step = excluded.step, value = excluded.value, time = excluded.time
      WHERE excluded.step >= latest_metrics.step`);
    // OR REPLACE: a statistic or checkpoint reported again (an epoch retrained after a crash) is the same fact
    const insertStats = this.stmt(
      `INSERT OR REPLACE INTO norm_stats (run_id, epoch, step, layer, kind, summary_json, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertCheckpoint = this.stmt(`INSERT OR REPLACE INTO checkpoints (run_id, epoch, path, reason, time) VALUES (?, ?, ?, ?, ?)`);
    const markJournal = this.stmt(`UPDATE runs SET journal_id = ?, journal_seq = ? WHERE id = ?`);
    const insertLog = this.stmt(`INSERT INTO run_logs (run_id, level, message, time) VALUES (?, ?, ?, ?)`);
    this.db.transaction(() => {
      const latest = new Map<number, Map<number, { step: number; value: number | null; time: number }>>();
      for (const m of rows.metrics) {
        const keyId = this.metricKeyId(m.key);
        const value = Number.isNaN(m.value) ? null : m.value;
        insertMetric.run(m.runId, keyId, m.step, value, m.time);
        let perRun = latest.get(m.runId);
        if (!perRun) latest.set(m.runId, (perRun = new Map()));
        const seen = perRun.get(keyId);
        if (!seen || m.step >= seen.step) perRun.set(keyId, { step: m.step, value, time: m.time });
      }
      for (const [runId, perRun] of latest) {
        for (const [keyId, p] of perRun) upsertLatest.run(runId, keyId, p.step, p.value, p.time);
      }
      for (const s of rows.normStats) insertStats.run(s.runId, s.epoch, s.step, s.layer, s.kind, s.summaryJson, s.time);
      for (const c of rows.checkpoints) insertCheckpoint.run(c.runId, c.epoch, c.path, c.reason, c.time);
      for (const l of rows.logs) insertLog.run(l.runId, l.level, l.message, l.time);
      for (const j of rows.journalMarks) markJournal.run(j.journal, j.seq, j.runId);
    })();
  }
}

type SetValue = string | number | null | { sql: string };

export type MetricTuple = [
  runId: number, sweepId: number, groupKey: string, model: string, seed: number, epoch: number, key: string,
  value: number, time: number,
];

interface SweepRow {
  id: number;
  name: string;
  spec_json: string;
  priority: number;
  created_at: number;
  updated_at: number;
}

function toSweepRecord(row: SweepRow): SweepRecord {
  return {
    id: row.id,
    name: row.name,
    spec: JSON.parse(row.spec_json) as unknown,
    priority: row.priority,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

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

function finalColumns(metrics: FinalMetrics): Record<string, SetValue> {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    final_test_acc: finite(metrics.test_acc),
    best_test_acc: finite(metrics.best_test_acc),
    final_test_loss: finite(metrics.test_loss),
    epochs_completed: metrics.epochs_completed,
  };
}

function paramText(value: unknown): string {
  return typeof value === 'string' ? value : canonicalJson(value);
}

function pageClause(filter: RunFilter): string {
  if (filter.limit === undefined && filter.offset === undefined) return '';
  const limit = Math.max(0, Math.floor(filter.limit ?? -1));
  const offset = Math.max(0, Math.floor(filter.offset ?? 0));
  return `LIMIT ${filter.limit === undefined ? -1 : limit} OFFSET ${offset}`;
}
