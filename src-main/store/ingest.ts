import { STEP_METRIC_KEYS, type StepPoint, type WorkerEvent } from '../../src-worker/protocol';
import { IngestError } from './errors';
import { writeJournalMark } from './history-writer';
import type { IngestBuffer, JournalMark, MetricRow } from './ingest-buffer';
import type { RunLifecycle } from './run-lifecycle';
import type { RunLogs } from './run-logs';
import type { Runs } from './runs';
import type { StoreContext } from './store-context';

const CHECKPOINT_REASONS = new Set(['periodic', 'cancel', 'final']);
const LOG_LEVELS = new Set(['info', 'warn', 'error']);
const NORM_KINDS = new Set(['kn', 'bn', 'gn', 'ln']);

type Started = Extract<WorkerEvent, { event: 'started' }>;
type Outcome = Extract<WorkerEvent, { event: 'done' | 'error' }>;
type HistoryEvent = Exclude<WorkerEvent, { event: 'done' | 'error' }>;

/**
 * Applies worker events (src-worker/protocol.ts) to the store. History goes through the ingest buffer; `done`
 * and `error` change the run row at once. A journaled event at or before the run's acknowledged journal position
 * is skipped, so replaying a journal after a crash records nothing twice.
 */
export class Ingest {
  /** Per run, the newest journal position accepted (buffered or written); events at or before it are skipped. */
  private readonly journalMarks = new Map<number, { journal: string | null; seq: number }>();

  constructor(
    private readonly ctx: StoreContext,
    private readonly buffer: IngestBuffer,
    private readonly runs: Runs,
    private readonly lifecycle: RunLifecycle,
    private readonly logs: RunLogs,
  ) {}

  /** Records one event for `runId`; throws IngestError, writing nothing of the event, when it cannot be recorded. */
  apply(runId: number, event: WorkerEvent): void {
    if (event.runId !== undefined && event.runId !== runId) {
      throw new IngestError(`event ${event.event} is for run ${event.runId}, not run ${runId}`);
    }
    this.runs.requireForIngest(runId);
    const stamp: JournalMark | null =
      event.journal !== undefined && event.seq !== undefined ? { runId, journal: event.journal, seq: event.seq } : null;
    if (stamp) {
      // a replayed journal event the store already has: ingest is idempotent
      const mark = this.journalMark(runId);
      if (mark.journal === stamp.journal && stamp.seq <= mark.seq) return;
    }
    if (event.event === 'done' || event.event === 'error') {
      // these change the run row directly: the row change and the journal mark commit together, after
      // everything buffered before them
      this.ctx.flush();
      this.ctx.db.transaction(() => {
        this.applyOutcome(runId, event);
        if (stamp) writeJournalMark(this.ctx, stamp);
      })();
    } else {
      this.applyHistory(runId, event);
      if (stamp) this.buffer.addJournalMark(stamp);
    }
    if (stamp) this.journalMarks.set(runId, { journal: stamp.journal, seq: stamp.seq });
  }

  /** Records one step's metrics (the `epoch` event's path, also open to callers with their own metric keys). */
  ingestMetrics(runId: number, step: number, metrics: Record<string, number | undefined>): void {
    this.runs.requireForIngest(runId);
    if (!Number.isInteger(step) || step < 0) throw new IngestError(`run ${runId}: step ${step} is not an integer ≥ 0`);
    const time = this.ctx.now();
    const rows: MetricRow[] = [];
    for (const key in metrics) {
      const value = metrics[key];
      if (value === undefined) continue;
      if (typeof value !== 'number') throw new IngestError(`run ${runId}: metric ${key} is not a number`);
      rows.push({ runId, key, step, value, time });
    }
    this.buffer.addMetrics(rows);
  }

  /** A `steps` event's points as one batch of metric rows (an epoch's worth, one buffer call). */
  private ingestStepPoints(runId: number, points: readonly StepPoint[], time: number): void {
    const rows: MetricRow[] = [];
    for (const p of points) {
      if (!Number.isInteger(p.step) || p.step < 1) throw new IngestError(`run ${runId}: step point at step ${p.step} is not an integer ≥ 1`);
      if (typeof p.lr !== 'number') throw new IngestError(`run ${runId}: step point ${p.step} has no lr`);
      rows.push({ runId, key: STEP_METRIC_KEYS.lr, step: p.step, value: p.lr, time });
      if (p.train_loss === undefined) continue;
      if (typeof p.train_loss !== 'number') throw new IngestError(`run ${runId}: step point ${p.step}: train_loss is not a number`);
      rows.push({ runId, key: STEP_METRIC_KEYS.trainLoss, step: p.step, value: p.train_loss, time });
    }
    this.buffer.addMetrics(rows);
  }

  private journalMark(runId: number): { journal: string | null; seq: number } {
    let mark = this.journalMarks.get(runId);
    if (!mark) {
      const row = this.ctx.stmt(`SELECT journal_id, journal_seq FROM runs WHERE id = ?`).get(runId) as { journal_id: string | null; journal_seq: number };
      mark = { journal: row.journal_id, seq: row.journal_seq };
      this.journalMarks.set(runId, mark);
    }
    return mark;
  }

  private applyOutcome(runId: number, event: Outcome): void {
    if (event.event === 'error') {
      this.runs.recordErrorReason(runId, event.reason);
      this.logs.add(runId, 'error', event.detail ? `${event.reason}\n${event.detail}` : event.reason);
      return;
    }
    switch (event.status) {
      case 'finished':
        this.lifecycle.finish(runId, event.metrics);
        return;
      case 'diverged':
        this.lifecycle.diverge(runId, 'training diverged (non-finite loss)', event.metrics);
        return;
      case 'cancelled':
        this.lifecycle.cancel(runId, event.metrics);
        return;
      case 'interrupted':
        this.lifecycle.interrupt(runId, event.metrics);
        return;
      case 'failed':
        this.lifecycle.fail(runId, this.runs.get(runId)?.errorReason ?? 'the worker reported failure');
        return;
    }
  }

  private applyHistory(runId: number, event: HistoryEvent): void {
    const time = this.ctx.now();
    switch (event.event) {
      case 'started':
        this.recordStarted(runId, event, time);
        return;
      case 'progress':
        return;
      case 'epoch': {
        const metrics: Record<string, number | undefined> = { ...event.metrics };
        this.ingestMetrics(runId, event.epoch, metrics);
        return;
      }
      case 'steps':
        this.ingestStepPoints(runId, event.points, time);
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

  private recordStarted(runId: number, event: Started, time: number): void {
    const run = this.runs.require(runId);
    // a one-off run started without a scheduler's claim: the worker's own report is the only start signal
    if (run.status === 'queued') this.lifecycle.markRunning(runId, event.device);
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
}
