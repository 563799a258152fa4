import type { RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { JournalAck } from '../../src-worker/train/journal';
import type { Device } from './devices';
import type { WorkerExit } from './worker-process';

/**
 * Where runs train: the local worker pool (local-executor.ts), later a Slurm cluster. The policy (policy.ts)
 * decides what runs and when; an executor only starts, stops and watches runs, so the policy never knows
 * whether a run is a child process or a cluster job (Ray Tune's trial executor vs its scheduler; submitit's
 * one `submit()` for local and Slurm).
 *
 * The contract, written so that a cluster fits without changes to the policy:
 * - Capacity is a list of units, each a place for one run. Locally a unit is a device slot (`gpu:1`, `cpu:0`);
 *   on a cluster it can be one of the "at most N jobs queued or running" places, with no device of its own.
 *   A unit is busy from `start` until the run's `ended` settles.
 * - `start` returns at once. Starting may go on in the background (a job is submitted, pends, then runs): the
 *   run counts as placed from the moment `start` returns, and a start that fails later settles `ended` with
 *   `sawDone: false` and a `summary` saying why. `start` throws only when this executor cannot take the run
 *   at all; trouble worth retrying (a busy `sbatch`) is the executor's to retry.
 * - Events reach the policy through `onEvent`, in the worker's order, whatever carries them: IPC from a child
 *   process, or lines appended to the run's `events.jsonl` journal on shared storage, tailed from `journalAck`.
 *   They arrive only after `start` or `reattach` has returned (a journal read at once is delivered on a later
 *   tick), so the policy knows the run before its first event.
 * - `cancel` and `interrupt` ask the run to checkpoint and stop (it ends cancelled / interrupted by itself);
 *   `kill` stops it without a checkpoint (SIGKILL, `scancel`). The policy kills after a grace period.
 * - A run that can outlive this process (a cluster job) has a `handle` (a job id), reported through `onHandle`
 *   as soon as it is known; the policy records it with the run. A manager that stops leaves such runs going
 *   (`detach`). After a restart (or a crash) the policy offers each recorded handle to `reattach`, which returns
 *   the run when it is still alive, so nothing is started twice. A child process cannot outlive its manager:
 *   it has no handle, no `detach`, and `reattach` returns null.
 */
export interface Executor {
  /** Every unit, with what it runs now; in the order the policy fills them. */
  units(): UnitView[];
  /** Units that can take a run now, in the order the policy fills them. */
  freeUnits(): CapacityUnit[];
  /** Places the run on a free unit (see the contract above for what may happen afterwards). */
  start(unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun;
  /** The run behind a recorded handle, watched again from `launch.journalAck`, or null when it is gone. */
  reattach(handle: string, unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun | null;
  /** Runs placed by this executor whose `ended` has not settled yet, pending ones included. */
  running(): ExecutorRun[];
  /**
   * Whether more runs wait in the queue, said after every placement round: an executor may prepare for them
   * (start workers ahead) or let go of what it prepared when none wait.
   */
  anticipate(moreQueued: boolean): void;
  /**
   * Only for executors whose runs outlive this process (cluster jobs): stop watching every run without stopping
   * it, resolving once each run's handle has been reported, so a later manager re-attaches to all of them. Their
   * `ended` never settles here afterwards. The policy calls it when it stops without interrupting its runs;
   * without it, stopping waits for the runs to end.
   */
  detach?(): Promise<void>;
}

/** One place for one run. */
export interface CapacityUnit {
  /** What the store records as the run's device: `gpu:1`, `gpu:1#2` or `cpu:0`, or a cluster's own name. */
  label: string;
  /** The device a run here trains on, when the executor knows it before the run starts; null on a cluster. */
  device: Device | null;
}

export interface UnitView extends CapacityUnit {
  runId: number | null;
}

/** Everything an executor needs to start (or resume) a run. */
export interface RunLaunch {
  runId: number;
  /** The run spec with its checkpoint folder fixed and `resume` on: a worker needs nothing else. */
  spec: RunSpec;
  /** What the store holds of the run's journal; the worker (or the journal tailer) replays the rest. */
  journalAck: JournalAck;
}

export interface RunObserver {
  onEvent(event: WorkerEvent): void;
  /** The run's handle, once known (a job id arrives when `sbatch` answers). */
  onHandle(handle: string): void;
}

export interface ExecutorRun {
  readonly runId: number;
  readonly unit: string;
  /** `pending` while the run waits to train (a queued cluster job); a local worker is `running` at once. */
  readonly phase: 'pending' | 'running';
  /** The worker's pid when it is a process on this machine. */
  readonly pid: number | null;
  cancel(): void;
  interrupt(): void;
  kill(): void;
  readonly ended: Promise<RunEnd>;
}

/**
 * How a run's worker ended. `sawDone` means the run reported its own outcome (finished, diverged, cancelled,
 * interrupted); otherwise the policy decides from `killed` and `summary`.
 */
export interface RunEnd extends WorkerExit {
  /**
   * Stopped from outside rather than by a fault of its own: a signal (the OOM killer, kill -9), a preempted
   * or timed-out job, a lost node. Such a run is worth another try from its last checkpoint; a crash is not.
   */
  killed: boolean;
  /** How it ended, for the run's failure reason: `worker process killed by SIGKILL`. */
  summary: string;
}
