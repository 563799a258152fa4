import { dirname } from 'node:path';
import type { ExperimentStore } from '../store/experiment-store';
import type { WorkerEvent } from '../../src-worker/protocol';
import type { ClaimedRun, SchedulerStore } from './scheduler';

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The scheduler's narrow view of the experiment store. Status changes that lost a race (a run cancelled from
 * the UI while its worker was already exiting) are ignored rather than thrown, since the store has the truth;
 * a requeue that fails is written to the run's own log as well, since nobody else would tell the user why the
 * run did not come back.
 *
 * `flush()` (called after every non-progress event) writes at once only what exists nowhere else: an event
 * without a journal stamp. A journaled event is already fsync'd in its worker's journal, which is replayed from
 * the store's acknowledged position on resume (and the store skips what it has), so it may wait in the ingest
 * buffer for its timer (StoreOptions.flushMs, 250 ms: what the live UI needs) or for a full batch: a crash then
 * loses nothing, and ingest batches across events instead of committing once per event. Status changes and
 * `done` events still flush first, so a run is never seen finished without its history.
 */
export function schedulerStoreFor(store: ExperimentStore, log: (message: string) => void = () => {}): SchedulerStore {
  const attempt = <T>(what: string, fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      log(`${what}: ${errorText(err)}`);
      return fallback;
    }
  };
  const requeue = (runId: number, when?: string): boolean => {
    try {
      store.requeue(runId);
      return true;
    } catch (err) {
      const message = `not requeued${when ? ` ${when}` : ''}: ${errorText(err)}`;
      log(`run ${runId} ${message}`);
      attempt(`writing to the log of run ${runId}`, () => store.addRunLog(runId, 'warn', message), undefined);
      return false;
    }
  };
  /** Whether an event since the last write exists only in memory (no journal holds it). */
  let unjournaledPending = false;
  return {
    acquireLease: (me, isDead) => store.acquireLease(me, isDead),
    renewLease: (owner) => store.renewLease(owner),
    releaseLease(owner) {
      attempt('releasing the scheduler lease', () => store.releaseLease(owner), undefined);
    },
    claimNextRun(deviceId: string, owner: string): ClaimedRun | null {
      const run = store.claimNext(deviceId, owner);
      return run ? { id: run.id, spec: run.spec, journalAck: run.journalAck } : null;
    },
    checkpointDirFor(runId: number, proposed: string): string {
      const recorded = store.getRun(runId)?.checkpointDir;
      if (recorded) return recorded;
      // a run from before stores recorded checkpoint folders keeps the folder its recorded checkpoints are in
      const legacy = store.latestCheckpoint(runId)?.path;
      return store.assignCheckpointDir(runId, legacy ? dirname(legacy) : proposed);
    },
    ingestEvent(runId: number, event: WorkerEvent): void {
      attempt(`recording ${event.event} of run ${runId}`, () => store.apply(runId, event), undefined);
      if (event.event !== 'progress' && event.seq === undefined) unjournaledPending = true;
    },
    flush(): void {
      if (!unjournaledPending) return;
      unjournaledPending = false;
      attempt('flushing the store', () => store.flush(), 0);
    },
    markFailed(runId: number, reason: string, stderrTail: string): void {
      attempt(`failing run ${runId}`, () => store.failRun(runId, reason, stderrTail), undefined);
    },
    failOrRetry(runId, reason, stderrTail, maxRetries): boolean {
      return attempt(`failing run ${runId}`, () => store.failOrRetry(runId, reason, stderrTail, maxRetries), false);
    },
    markCancelled(runId: number): void {
      attempt(`cancelling run ${runId}`, () => store.cancelRun(runId), undefined);
    },
    markInterrupted(runId: number): void {
      attempt(`interrupting run ${runId}`, () => store.interruptRun(runId), undefined);
    },
    isInterrupted: (runId) => store.getRun(runId)?.status === 'interrupted',
    cancelQueued(runId: number): boolean {
      const run = store.getRun(runId);
      if (!run || (run.status !== 'queued' && run.status !== 'interrupted')) return false;
      return attempt(`cancelling run ${runId}`, () => (store.cancelRun(runId), true), false);
    },
    requeue: (runId) => requeue(runId),
    /** Returns the number of runs queued again; one that could not be says why in its log. */
    recoverInterrupted(owner: string): number {
      store.markInterruptedAtStartup(owner);
      return store.interruptedRunIds().filter((id) => requeue(id, 'to resume at start-up')).length;
    },
    hasQueued(): boolean {
      return store.countRuns({ status: 'queued' }) > 0;
    },
    recordExecutorHandle(runId, handle) {
      attempt(`recording the job of run ${runId}`, () => store.recordExecutorHandle(runId, handle), undefined);
    },
    attachableRuns: () => store.attachableRuns(),
    adoptRun: (runId, owner) => store.adoptRun(runId, owner),
    setRunDevice(runId, device) {
      attempt(`recording the device of run ${runId}`, () => store.setRunDevice(runId, device), undefined);
    },
  };
}
