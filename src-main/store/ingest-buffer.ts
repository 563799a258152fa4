/**
 * Holds worker output until it is written in one transaction: one SQLite commit per row would cap ingestion at a
 * few thousand rows/s, one per batch reaches hundreds of thousands. Rows are written when `maxRows` are pending,
 * `maxDelayMs` after the first pending row, or on `flush()`. The store flushes before every status change, so a
 * run is never seen as finished while part of its history is still only in memory.
 */
export interface MetricRow { runId: number; key: string; step: number; value: number; time: number }
export interface NormStatsRow { runId: number; epoch: number; step: number; layer: string; kind: string; summaryJson: string; time: number }
export interface CheckpointRow { runId: number; epoch: number; path: string; reason: string; time: number }
export interface LogRow { runId: number; level: string; message: string; time: number }
/** How far into a run's event journal the rows before it reach; written in the same transaction as they are. */
export interface JournalMark { runId: number; journal: string; seq: number }

export interface PendingRows {
  metrics: MetricRow[];
  normStats: NormStatsRow[];
  checkpoints: CheckpointRow[];
  logs: LogRow[];
  journalMarks: JournalMark[];
}

export interface IngestBufferOptions {
  /** Flush once this many rows are pending. */
  maxRows: number;
  /** Flush at most this long after the first pending row. */
  maxDelayMs: number;
  /** Where a failed timer-driven flush is reported (the rows stay pending and are retried on the next flush). */
  onError: (error: unknown) => void;
}

function emptyRows(): PendingRows {
  return { metrics: [], normStats: [], checkpoints: [], logs: [], journalMarks: [] };
}

export class IngestBuffer {
  private pending = emptyRows();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly writeBatch: (rows: PendingRows) => void,
    private readonly options: IngestBufferOptions,
  ) {}

  get pendingRows(): number {
    return this.count;
  }

  /** Rows of one event are added together, so a flush never splits an epoch: readers see all of it or none. */
  addMetrics(rows: readonly MetricRow[]): void {
    for (const row of rows) this.pending.metrics.push(row);
    this.added(rows.length);
  }

  addNormStats(rows: readonly NormStatsRow[]): void {
    for (const row of rows) this.pending.normStats.push(row);
    this.added(rows.length);
  }

  addCheckpoint(row: CheckpointRow): void {
    this.pending.checkpoints.push(row);
    this.added(1);
  }

  addLog(row: LogRow): void {
    this.pending.logs.push(row);
    this.added(1);
  }

  addJournalMark(mark: JournalMark): void {
    this.pending.journalMarks.push(mark);
    this.added(1);
  }

  /** Writes everything pending; returns the number of rows written. On failure the rows stay pending. */
  flush(): number {
    this.clearTimer();
    if (this.count === 0) return 0;
    const batch = this.pending;
    const written = this.count;
    this.pending = emptyRows();
    this.count = 0;
    try {
      this.writeBatch(batch);
    } catch (error) {
      this.restore(batch, written);
      throw error;
    }
    return written;
  }

  /** Stops the timer without writing (the owner flushes first when it means to keep the rows). */
  dispose(): void {
    this.clearTimer();
  }

  private added(rows: number): void {
    if (rows === 0) return;
    this.count += rows;
    if (this.count >= this.options.maxRows) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.flushFromTimer(), this.options.maxDelayMs);
      // pending rows must not keep a CLI process alive; close() flushes them
      this.timer.unref();
    }
  }

  private flushFromTimer(): void {
    this.timer = null;
    try {
      this.flush();
    } catch (error) {
      this.options.onError(error);
    }
  }

  private restore(batch: PendingRows, rows: number): void {
    // rows added while the failed write ran (none: writes are synchronous) would go after the batch
    this.pending = {
      metrics: batch.metrics.concat(this.pending.metrics),
      normStats: batch.normStats.concat(this.pending.normStats),
      checkpoints: batch.checkpoints.concat(this.pending.checkpoints),
      logs: batch.logs.concat(this.pending.logs),
      journalMarks: batch.journalMarks.concat(this.pending.journalMarks),
    };
    this.count += rows;
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
