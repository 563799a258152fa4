import type { RunRecord } from '../../src-main/store/types';

/**
 * A sweep's progress as a whole: runs ended of all, epochs trained of all, and the time left, from epoch times
 * measured in this sweep (finished runs' wall time per epoch, and running runs' elapsed time per epoch done).
 * Pure, so the runs view recomputes it on every live progress event.
 */

export interface RunProgressInput {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
}

export interface SweepProgressInput {
  runs: readonly RunRecord[];
  /** Live progress of running runs, by run id. */
  live: ReadonlyMap<number, RunProgressInput>;
  /** Epochs a running run has finished by its stored metrics (another process trains it), by run id. */
  storedEpochs?: ReadonlyMap<number, number>;
  /** The last epoch each run reported live: what a run that just ended counts until its record is re-read. */
  lastEpochs?: ReadonlyMap<number, number>;
  /** Runs trained side by side (the scheduler's slots). */
  slots: number;
  now: number;
}

export interface SweepProgressSummary {
  runsTotal: number;
  /** Finished, failed, diverged or cancelled: nothing more to train. */
  runsEnded: number;
  runsRunning: number;
  runsFinished: number;
  /** Whole-run epochs: a run that ended early (failed, cancelled) counts the epochs it trained. */
  epochsTotal: number;
  /** Epochs trained, fractions of the current epochs included. */
  epochsDone: number;
  /** Seconds left; null before any epoch time is measured, 0 when nothing is left. */
  etaSec: number | null;
  /** Seconds per epoch over the measurements (all configurations), null before any. */
  secPerEpoch: number | null;
  /** How many runs the estimate is measured from. */
  measuredRuns: number;
  /** Runs left whose configuration has no measurement of its own yet (they borrow the mean of the others). */
  borrowed: number;
}

const ENDED = new Set(['finished', 'failed', 'diverged', 'cancelled']);
/** Runs that end early do not train their remaining epochs. */
const CUT_SHORT = new Set(['failed', 'diverged', 'cancelled']);

/** What sets an epoch's cost: the same key, the same time per epoch. */
function costKey(r: RunRecord): string {
  const s = r.spec as Readonly<Record<string, unknown>>;
  return JSON.stringify([r.model, r.dataset, r.batchSize, s.width ?? 1, s.syntheticTrainSize ?? null, s.dp !== undefined]);
}

function epochsDoneOf(r: RunRecord, input: SweepProgressInput): number {
  if (r.status === 'finished') return r.epochs;
  if (r.status !== 'running') return Math.min(r.epochs, r.epochsCompleted ?? 0);
  const p = input.live.get(r.id);
  if (p) return Math.min(r.epochs, p.epoch - 1 + p.batch / Math.max(1, p.batchesPerEpoch));
  return Math.min(r.epochs, r.epochsCompleted ?? input.storedEpochs?.get(r.id) ?? input.lastEpochs?.get(r.id) ?? 0);
}

export function sweepProgress(input: SweepProgressInput): SweepProgressSummary {
  const { runs, now } = input;
  let epochsTotal = 0;
  let epochsDone = 0;
  // seconds and epochs measured per cost key
  const measured = new Map<string, { sec: number; epochs: number }>();
  let measuredRuns = 0;
  const add = (key: string, sec: number, epochs: number) => {
    const m = measured.get(key) ?? { sec: 0, epochs: 0 };
    m.sec += sec;
    m.epochs += epochs;
    measured.set(key, m);
    measuredRuns++;
  };
  for (const r of runs) {
    const done = epochsDoneOf(r, input);
    epochsDone += done;
    epochsTotal += CUT_SHORT.has(r.status) ? done : r.epochs;
    if (r.startedAt === null) continue;
    if (r.status === 'finished' && r.finishedAt !== null && r.epochs > 0) add(costKey(r), (r.finishedAt - r.startedAt) / 1000, r.epochs);
    // a tenth of an epoch in: enough to time it, not so early that start-up dominates
    else if (r.status === 'running' && done >= 0.1) add(costKey(r), (now - r.startedAt) / 1000, done);
  }
  let totalSec = 0;
  let totalEpochs = 0;
  for (const m of measured.values()) {
    totalSec += m.sec;
    totalEpochs += m.epochs;
  }
  const secPerEpoch = totalEpochs > 0 ? totalSec / totalEpochs : null;
  let leftSec = 0;
  let borrowed = 0;
  for (const r of runs) {
    if (ENDED.has(r.status)) continue;
    const left = r.epochs - epochsDoneOf(r, input);
    const own = measured.get(costKey(r));
    if (!own) borrowed++;
    const perEpoch = own ? own.sec / own.epochs : secPerEpoch;
    if (perEpoch !== null) leftSec += left * perEpoch;
  }
  const active = runs.filter((r) => !ENDED.has(r.status)).length;
  const parallel = Math.max(1, Math.min(input.slots, active));
  return {
    runsTotal: runs.length,
    runsEnded: runs.filter((r) => ENDED.has(r.status)).length,
    runsRunning: runs.filter((r) => r.status === 'running').length,
    runsFinished: runs.filter((r) => r.status === 'finished').length,
    epochsTotal,
    epochsDone,
    etaSec: active === 0 ? 0 : secPerEpoch === null ? null : leftSec / parallel,
    secPerEpoch,
    measuredRuns,
    borrowed,
  };
}
