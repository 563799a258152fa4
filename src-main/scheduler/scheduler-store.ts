import type { RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { JournalAck } from '../../src-worker/train/journal';
import type { LeaseHolder, LeaseRecord, LeaseResult } from '../store/lease';

/** A run the store has handed to a slot (already marked running on that device). */
export interface ClaimedRun {
  id: number;
  spec: RunSpec;
  /** What the store holds of the run's journal; the worker replays the rest before training. */
  journalAck: JournalAck;
}

/** A run left `running` with an executor handle recorded for it: a restarted manager may find it still alive. */
export interface AttachableRun extends ClaimedRun {
  /** The capacity unit the run was placed on (what the store records as its device). */
  unit: string;
  /** What the executor returned when it started the run (a Slurm job id); opaque to everyone else. */
  handle: string;
}

/** What the scheduler needs from the experiment store; nothing more, so it can be tested in isolation. */
export interface SchedulerStore {
  acquireLease(me: LeaseHolder, isDead: (holder: LeaseRecord) => boolean): LeaseResult;
  renewLease(owner: string): boolean;
  releaseLease(owner: string): void;
  claimNextRun(deviceId: string, owner: string): ClaimedRun | null;
  /** The run's checkpoint folder: the one recorded for it, else `proposed` (recorded from now on). */
  checkpointDirFor(runId: number, proposed: string): string;
  ingestEvent(runId: number, event: WorkerEvent): void;
  /**
   * Makes everything ingested so far recoverable: written to the store now, or held in the worker's fsync'd journal
   * and written within the store's flush interval (250 ms).
   */
  flush(): void;
  markFailed(runId: number, reason: string, stderrTail: string): void;
  /** Records the run failed and requeues it if it has automatic retries left; true when requeued. */
  failOrRetry(runId: number, reason: string, stderrTail: string, maxRetries: number): boolean;
  markCancelled(runId: number): void;
  markInterrupted(runId: number): void;
  cancelQueued(runId: number): boolean;
  requeue(runId: number): boolean;
  /** Whether the run ended `interrupted` (it stopped to be resumed). */
  isInterrupted(runId: number): boolean;
  /**
   * Runs left `running` by a dead scheduler become `interrupted`; every interrupted run is queued again to
   * resume. Only called while holding the lease.
   */
  recoverInterrupted(owner: string): number;
  hasQueued(): boolean;

  // Re-attaching to runs that outlive the manager (Slurm jobs). A store without these members never re-attaches:
  // every run a dead manager left behind is recovered (interrupted, queued again) as before.

  /** Records the executor's handle for a running run; kept after the run ends (the record says which job ran it). */
  recordExecutorHandle?(runId: number, handle: string): void;
  /** Runs still marked `running` that have a recorded handle, whoever placed them; never a run that ended. */
  attachableRuns?(): AttachableRun[];
  /**
   * Makes `owner` the owner of a run that is still `running`, so `recoverInterrupted(owner)` leaves it alone;
   * false when the run is no longer running (cancelled while no manager watched it).
   */
  adoptRun?(runId: number, owner: string): boolean;
  /** Where a running run trains once the executor knows it (the node a Slurm job got), recorded as its device. */
  setRunDevice?(runId: number, device: string): void;
}

/** Whether this scheduler may place runs, and if not, who does. */
export type LeaseState =
  | { state: 'held'; lease: LeaseHolder }
  | { state: 'waiting'; holder: LeaseRecord }
  | { state: 'stopped' };
