import type { GroupAggregate, RunRecord, RunStatus } from '../store/types';
import type { NormLabRuntime } from '../runtime';
import type { SubmitSweepResult } from '../api/service';
import type { SweepSpecArg } from '../api/schemas';
import { EXIT_INTERRUPTED, handleStopSignals } from './stop-signals';
import type { WorkerEvent } from '../../src-worker/protocol';
import type { SchedulingPolicy } from '../scheduler/policy';
import type { LeaseState } from '../scheduler/scheduler';

const UNFINISHED: RunStatus[] = ['queued', 'running', 'interrupted'];

export interface SweepOutcome {
  sweepId: number;
  runs: RunRecord[];
  aggregates: GroupAggregate[];
  allFinished: boolean;
}

export interface SweepReporter {
  submitted(result: SubmitSweepResult, recovered: number): void;
  event(runId: number, event: WorkerEvent): void;
  runEnded(run: RunRecord, done: number, total: number): void;
  /** The scheduling lease changed hands: this process places runs now, or waits for another one. */
  lease?(state: LeaseState): void;
}

/**
 * Submits a sweep, lets the scheduler place its runs (and any interrupted earlier runs, which resume), and
 * resolves when none of the sweep's runs is queued or running any more. An lr search keeps the sweep open
 * while the searcher still proposes runs.
 */
export async function runSweepToEnd(
  runtime: NormLabRuntime<SchedulingPolicy>,
  spec: SweepSpecArg,
  reporter: SweepReporter,
  opts: { pollMs?: number; signal?: AbortSignal } = {},
): Promise<SweepOutcome> {
  const submitted = await runtime.service.submitSweep(spec);
  const sweepId = submitted.sweepId;
  const onLease = (state: LeaseState) => reporter.lease?.(state);
  runtime.scheduler.on('lease', onLease);
  const recovered = runtime.scheduler.start();
  reporter.submitted(submitted, recovered);

  const onEvent = (runId: number, event: WorkerEvent) => reporter.event(runId, event);
  const onEnded = (runId: number) => {
    const run = runtime.store.getRun(runId);
    if (!run || run.sweepId !== sweepId) return;
    const total = runtime.store.countRuns({ sweepId });
    const done = total - runtime.store.countRuns({ sweepId, status: UNFINISHED });
    reporter.runEnded(run, done, total);
  };
  runtime.scheduler.on('event', onEvent);
  runtime.scheduler.on('runEnded', onEnded);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const pending = runtime.store.countRuns({ sweepId, status: UNFINISHED });
        if (pending === 0 && runtime.scheduler.runningRunIds().length === 0) {
          clearInterval(timer);
          resolve();
        }
      }, opts.pollMs ?? 250);
      // stopped from outside: polling ends before the runtime (and its store) is closed under it
      opts.signal?.addEventListener('abort', () => {
        clearInterval(timer);
        reject(new SweepInterrupted());
      }, { once: true });
    });
  } finally {
    runtime.scheduler.off('event', onEvent);
    runtime.scheduler.off('runEnded', onEnded);
    runtime.scheduler.off('lease', onLease);
  }
  const runs = runtime.store.listRuns({ sweepId });
  return {
    sweepId,
    runs,
    aggregates: runtime.store.aggregates({ sweepId }),
    allFinished: runs.every((r) => r.status === 'finished'),
  };
}

/** runSweepToEnd was stopped through its signal. */
export class SweepInterrupted extends Error {
  override name = 'SweepInterrupted';
  constructor() {
    super('the sweep was interrupted');
  }
}

/**
 * runSweepToEnd for a command in a terminal: SIGINT or SIGTERM means "stop for now", so polling stops, every
 * worker checkpoints, the runs stay interrupted (the same command resumes them) and the process exits 130; a
 * second signal exits at once. Returns only when the sweep ends on its own.
 */
export async function runSweepUntilSignalled(
  runtime: NormLabRuntime<SchedulingPolicy>, spec: SweepSpecArg, reporter: SweepReporter, onStopping: () => void = () => {},
): Promise<SweepOutcome> {
  const abort = new AbortController();
  const stop: { closing: Promise<never> | null } = { closing: null };
  const signals = handleStopSignals(() => {
    onStopping();
    abort.abort();
    stop.closing = runtime.close({ interruptRunning: true }).then(() => process.exit(EXIT_INTERRUPTED));
  });
  try {
    return await runSweepToEnd(runtime, spec, reporter, { signal: abort.signal });
  } catch (err) {
    // the process exits 130 once the workers have checkpointed
    if (err instanceof SweepInterrupted && stop.closing) return await stop.closing;
    throw err;
  } finally {
    signals.dispose();
  }
}

export function formatPercent(value: number | null, digits = 2): string {
  return value === null ? '–' : (value * 100).toFixed(digits);
}

/** Mean ± SD (n) of final and best test top-1, one line per config group. */
export function formatAggregateTable(aggregates: GroupAggregate[]): string {
  const header = ['model', 'lr', 'batch', 'n', 'final top-1 % (mean ± SD)', 'best top-1 % (mean ± SD)'];
  const rows = aggregates.map((a) => [
    a.model,
    String(a.lr),
    String(a.batchSize),
    String(a.n),
    `${formatPercent(a.finalTestAcc.mean)} ± ${formatPercent(a.finalTestAcc.sd)}`,
    `${formatPercent(a.bestTestAcc.mean)} ± ${formatPercent(a.bestTestAcc.sd)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatStatusSummary(runs: RunRecord[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
}
