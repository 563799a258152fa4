import { readJournal, type JournaledEvent } from '../../src-worker/train/journal';
import type { ExperimentStore } from './experiment-store';

/** What an audit of a store against its runs' journals found; every count but the first three should be 0. */
export interface IntegrityReport {
  runs: number;
  /** Epochs that must be in the store: all of a finished run's, and every epoch any worker journaled. */
  epochsExpected: number;
  epochsPresent: number;
  /** Expected epochs missing from the store's metrics, as run:epoch. */
  lostEpochs: string[];
  /** History rows recorded twice. */
  duplicateRows: number;
  /** Runs two worker processes trained at the same time (their journal lines interleave in time). */
  trainedTwice: number[];
}

/** Pairs of writers whose spans of journal lines overlap in time: two workers on one run at once. */
function overlappingWriters(events: JournaledEvent[]): boolean {
  const spans = new Map<number, { from: number; to: number }>();
  for (const e of events) {
    if (e.pid === undefined || e.at === undefined) continue;
    const span = spans.get(e.pid);
    if (!span) spans.set(e.pid, { from: e.at, to: e.at });
    else span.to = Math.max(span.to, e.at);
  }
  const sorted = [...spans.values()].sort((a, b) => a.from - b.from);
  return sorted.some((span, i) => i > 0 && span.from < sorted[i - 1].to);
}

/**
 * Checks the promise an experiment manager makes: what a worker reported (its journal) is in the store, once,
 * and no run was trained by two workers at a time. Reads the journal in each run's recorded checkpoint folder.
 */
export function auditStore(store: ExperimentStore): IntegrityReport {
  const report: IntegrityReport = { runs: 0, epochsExpected: 0, epochsPresent: 0, lostEpochs: [], duplicateRows: 0, trainedTwice: [] };
  for (const run of store.listRuns()) {
    report.runs += 1;
    const journal = run.checkpointDir ? readJournal(run.checkpointDir) : [];
    const expected = new Set(journal.flatMap((e) => (e.event === 'epoch' ? [e.epoch] : [])));
    if (run.status === 'finished') for (let epoch = 1; epoch <= run.epochs; epoch++) expected.add(epoch);
    const present = new Set((store.getMetrics(run.id, 'test_acc').test_acc ?? []).map((p) => p.step));
    for (const epoch of [...expected].sort((a, b) => a - b)) {
      report.epochsExpected += 1;
      if (present.has(epoch)) report.epochsPresent += 1;
      else report.lostEpochs.push(`${run.id}:${epoch}`);
    }
    if (overlappingWriters(journal)) report.trainedTwice.push(run.id);
  }
  const dup = store.duplicateHistoryRows();
  report.duplicateRows = dup.normStats + dup.checkpoints;
  return report;
}
