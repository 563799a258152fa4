import { dirname } from 'node:path';
import type { ExperimentStore } from '../store/experiment-store';
import type { WorkerEvent } from '../../src-worker/protocol';
import type { ClaimedRun, SchedulerStore } from './scheduler';

/**
 * The scheduler's narrow view of the experiment store. Status changes that lost a race (a run cancelled from
 * the UI while its worker was already exiting) are ignored rather than thrown, since the store has the truth.
 */
export function schedulerStoreFor(store: ExperimentStore, log: (message: string) => void = () => {}): SchedulerStore {
  const attempt = <T>(what: string, fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      log(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return fallback;
    }
  };
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
    },
    flush(): void {
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
    requeue(runId: number): boolean {
      return attempt(`requeueing run ${runId}`, () => (store.requeue(runId), true), false);
    },
    recoverInterrupted(owner: string): number {
      store.markInterruptedAtStartup(owner);
      const ids = store.interruptedRunIds();
      for (const id of ids) attempt(`requeueing interrupted run ${id}`, () => store.requeue(id), undefined);
      return ids.length;
    },
    hasQueued(): boolean {
      return store.countRuns({ status: 'queued' }) > 0;
    },
  };
}
