import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../src-worker/pid-alive';
import type { EpochMetrics, RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { LeaseHolder } from '../store/lease';
import type { Executor, ExecutorRun, RunEnd, RunLaunch, RunObserver } from './executor';
import type { ClaimedRun, LeaseState, SchedulerStore } from './scheduler-store';
import type { WorkerExit } from './worker-process';

/**
 * Early stopping (ASHA, median stopping): asked after every epoch a run reports. `stop` ends the run the way a
 * user's cancel does, with a checkpoint; the run state machine has no separate "stopped early" state.
 */
export interface EarlyStopping {
  onEpoch(runId: number, epoch: number, metrics: EpochMetrics): 'continue' | 'stop';
}

/** Never stops a run: the default. */
export const neverStopEarly: EarlyStopping = { onEpoch: () => 'continue' };

export interface PolicyOptions {
  /** Each run checkpoints into `<checkpointRoot>/run-<id>` unless its spec names a folder. */
  checkpointRoot: string;
  /** How often to renew the lease and look for runs queued by another process. */
  pollMs?: number;
  /** After a cancel, how long a run may take to checkpoint before it is killed. */
  cancelGraceMs?: number;
  /** A run killed from outside (OOM killer, kill -9) is retried this many times (default 2). */
  maxAutoRetries?: number;
  /** A lease whose heartbeat is older than this belongs to a dead scheduler (default 15 s). */
  leaseStaleMs?: number;
  earlyStopping?: EarlyStopping;
  /**
   * The searcher's next step (the lr search proposing runs): called once a run's end is recorded. Runs it
   * queues are placed when it settles; a rejection goes to `onHookError`.
   */
  afterRunEnded?: (runId: number) => unknown;
  /** Where a failing `afterRunEnded` is reported (default: ignored, as a searcher logs its own trouble). */
  onHookError?: (runId: number, err: unknown) => void;
}

export interface SchedulerEvents {
  event: [runId: number, event: WorkerEvent];
  runStarted: [runId: number, deviceId: string];
  runEnded: [runId: number, exit: WorkerExit];
  lease: [state: LeaseState];
}

interface Placed {
  run: ExecutorRun;
  stopRequested: 'cancel' | 'interrupt' | null;
  lastError: string | null;
}

/**
 * Decides what runs and when, FIFO by priority as the store orders the queue; an executor decides how
 * (executor.ts). What to run (sweeps, LR search) is decided elsewhere and reaches the queue through the store.
 *
 * Only the holder of the store's lease places runs, so two processes on one DB never train a run twice: a
 * second scheduler waits (its process reads the store meanwhile) and takes over when the holder leaves or dies.
 */
export class SchedulingPolicy extends EventEmitter<SchedulerEvents> {
  private readonly placed = new Map<number, Placed>();
  private paused = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private filling = false;
  private readonly me: LeaseHolder = { owner: randomUUID(), pid: process.pid, host: hostname() };
  private leaseState: LeaseState = { state: 'stopped' };
  private readonly earlyStopping: EarlyStopping;

  constructor(
    private readonly store: SchedulerStore,
    private readonly executor: Executor,
    private readonly opts: PolicyOptions,
  ) {
    super();
    this.earlyStopping = opts.earlyStopping ?? neverStopEarly;
  }

  /**
   * Takes the store's lease if it can, re-attaches to runs that outlived their manager, recovers the rest of
   * what a dead scheduler left behind, then places runs and polls for new work; without the lease it retries
   * on every poll. Returns the number of runs recovered now.
   */
  start(): number {
    if (this.started) return 0;
    this.started = true;
    this.timer = setInterval(() => this.tick(), this.opts.pollMs ?? 1000);
    this.timer.unref();
    const recovered = this.tryLease();
    this.fill();
    return recovered;
  }

  lease(): LeaseState {
    return this.leaseState;
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.leaseState.state === 'held') {
      if (!this.store.renewLease(this.me.owner)) return this.leaseLost();
    } else {
      this.tryLease();
    }
    this.fill();
  }

  /** Returns the number of runs recovered when the lease was taken just now. */
  private tryLease(): number {
    const staleMs = this.opts.leaseStaleMs ?? 15_000;
    const result = this.store.acquireLease(this.me, (holder) =>
      Date.now() - holder.heartbeatAt > staleMs || (holder.host === this.me.host && !pidAlive(holder.pid)),
    );
    if (!result.acquired) {
      const was = this.leaseState;
      this.leaseState = { state: 'waiting', holder: result.holder };
      if (was.state !== 'waiting' || was.holder.owner !== result.holder.owner) this.emit('lease', this.leaseState);
      return 0;
    }
    const fresh = this.leaseState.state !== 'held';
    this.leaseState = { state: 'held', lease: this.me };
    if (!fresh) return 0;
    // both must come before any placement: a run this scheduler claims is 'running' too. Re-attached runs
    // become ours first, so recovery does not queue them again.
    this.reattach();
    const recovered = this.store.recoverInterrupted(this.me.owner);
    this.emit('lease', this.leaseState);
    return recovered;
  }

  private reattach(): void {
    for (const left of this.store.attachableRuns?.() ?? []) {
      if (this.placed.has(left.id)) continue;
      const launch = this.launchFor(left);
      const run = this.executor.reattach(left.handle, left.unit, launch, this.observerFor(left.id));
      if (!run) continue;
      // the run left `running` since it was listed (another process ended it): nobody should be training it
      if (this.store.adoptRun?.(left.id, this.me.owner) !== true) {
        run.kill();
        continue;
      }
      this.track(run);
    }
  }

  /** Another process judged this one dead and took the lease: its runs are not ours to train any more. */
  private leaseLost(): void {
    this.leaseState = { state: 'stopped' };
    this.executor.anticipate(false);
    for (const placed of this.placed.values()) this.stopRun(placed, 'interrupt');
    this.emit('lease', this.leaseState);
    this.tryLease();
  }

  /** New runs were queued: place them now instead of waiting for the next poll. */
  notify(): void {
    this.fill();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.fill();
  }

  isPaused(): boolean {
    return this.paused;
  }

  runningRunIds(): number[] {
    return [...this.placed.keys()];
  }

  /** Cancels a queued run at once, or asks a running one to checkpoint and stop (killed after a grace period). */
  cancel(runId: number): boolean {
    const placed = this.placed.get(runId);
    if (!placed) return this.store.cancelQueued(runId);
    this.stopRun(placed, 'cancel');
    return true;
  }

  private stopRun(placed: Placed, how: 'cancel' | 'interrupt'): void {
    // a cancel is the stronger word: a later interrupt (the app quitting) does not turn it into a pause
    if (placed.stopRequested !== 'cancel') placed.stopRequested = how;
    if (how === 'cancel') placed.run.cancel();
    else placed.run.interrupt();
    const grace = setTimeout(() => placed.run.kill(), this.opts.cancelGraceMs ?? 30_000);
    grace.unref();
    void placed.run.ended.then(() => clearTimeout(grace));
  }

  retry(runId: number): boolean {
    const ok = this.store.requeue(runId);
    if (ok) this.fill();
    return ok;
  }

  isIdle(): boolean {
    return this.placed.size === 0 && (this.paused || !this.store.hasQueued());
  }

  /**
   * Stops placing runs and waits for the running ones; with `interruptRunning` they checkpoint and stop first,
   * ending `interrupted` so the next start resumes them (Ctrl-C means "stop for now", not "cancel"). Runs that
   * outlive this process (an executor with `detach`) are left running instead, unless told to interrupt. The
   * lease is released last, once no run of this scheduler is left or watched.
   */
  async stop(opts: { interruptRunning?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.executor.anticipate(false);
    const placed = [...this.placed.values()];
    if (opts.interruptRunning) for (const p of placed) this.stopRun(p, 'interrupt');
    if (!opts.interruptRunning && this.executor.detach) {
      // cluster jobs train on without us; the next manager re-attaches to them by their recorded handles
      await this.executor.detach();
      this.placed.clear();
    } else {
      await Promise.all(placed.map((p) => p.run.ended));
    }
    if (this.leaseState.state === 'held') this.store.releaseLease(this.me.owner);
    this.leaseState = { state: 'stopped' };
  }

  private fill(): void {
    if (this.filling || this.stopped || !this.started || this.leaseState.state !== 'held') return;
    this.filling = true;
    try {
      if (!this.paused) this.placeQueued();
      this.executor.anticipate(this.store.hasQueued());
    } finally {
      this.filling = false;
    }
  }

  private placeQueued(): void {
    for (const unit of this.executor.freeUnits()) {
      // a run the executor refuses is failed and the unit offered the next one, so one bad run holds up nothing
      for (;;) {
        const claimed = this.store.claimNextRun(unit.label, this.me.owner);
        if (!claimed) return;
        if (this.place(unit.label, claimed)) break;
      }
    }
  }

  private place(unit: string, claimed: ClaimedRun): boolean {
    let run: ExecutorRun;
    try {
      run = this.executor.start(unit, this.launchFor(claimed), this.observerFor(claimed.id));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.store.markFailed(claimed.id, `could not start run ${claimed.id} on ${unit}: ${why}`, '');
      this.emit('runEnded', claimed.id, { code: null, signal: null, stderrTail: '', sawDone: false });
      this.afterEnded(claimed.id);
      return false;
    }
    this.track(run);
    this.emit('runStarted', claimed.id, unit);
    return true;
  }

  private launchFor(claimed: ClaimedRun): RunLaunch {
    const spec: RunSpec = {
      ...claimed.spec,
      runId: claimed.id,
      checkpointDir:
        claimed.spec.checkpointDir ?? this.store.checkpointDirFor(claimed.id, join(this.opts.checkpointRoot, `run-${claimed.id}`)),
      // a worker resumes from the newest checkpoint in its folder when there is one, including a checkpoint
      // an earlier attempt wrote but could not report before it was killed
      resume: true,
    };
    return { runId: claimed.id, spec, journalAck: claimed.journalAck };
  }

  private observerFor(runId: number): RunObserver {
    return {
      onEvent: (event) => this.onEvent(runId, event),
      onHandle: (handle) => this.store.recordExecutorHandle?.(runId, handle),
    };
  }

  private onEvent(runId: number, event: WorkerEvent): void {
    const placed = this.placed.get(runId);
    if (event.event === 'error' && placed) placed.lastError = event.reason;
    this.store.ingestEvent(runId, event);
    // listeners acknowledge events (print them, push them to the UI): what they see must be recoverable
    // already, in the store or in the worker's journal (the adapter decides which). Progress events are live-only.
    if (event.event !== 'progress') this.store.flush();
    this.emit('event', runId, event);
    if (event.event === 'epoch' && placed && placed.stopRequested === null) {
      if (this.earlyStopping.onEpoch(runId, event.epoch, event.metrics) === 'stop') this.stopRun(placed, 'cancel');
    }
  }

  private track(run: ExecutorRun): void {
    const placed: Placed = { run, stopRequested: null, lastError: null };
    this.placed.set(run.runId, placed);
    void run.ended.then((end) => this.onEnded(placed, end));
  }

  private onEnded(placed: Placed, end: RunEnd): void {
    const { runId } = placed.run;
    if (this.placed.get(runId) === placed) this.placed.delete(runId);
    if (!end.sawDone) {
      if (placed.stopRequested === 'cancel') this.store.markCancelled(runId);
      else if (placed.stopRequested === 'interrupt') this.store.markInterrupted(runId);
      else {
        const reason = placed.lastError ?? `${end.summary} before finishing`;
        // a run killed from outside is worth another try from its last checkpoint; a crash is not
        if (end.killed && placed.lastError === null) this.store.failOrRetry(runId, reason, end.stderrTail, this.opts.maxAutoRetries ?? 2);
        else this.store.markFailed(runId, reason, end.stderrTail);
      }
    } else if (placed.stopRequested === null && !this.stopped && this.store.isInterrupted(runId)) {
      // the worker alone was told to stop for now (a signal to it, not to us): it resumes here
      this.store.requeue(runId);
    }
    this.emit('runEnded', runId, end);
    this.afterEnded(runId);
    this.fill();
  }

  private afterEnded(runId: number): void {
    const hook = this.opts.afterRunEnded;
    // a manager shutting down proposes nothing: the searcher catches up from the store on the next start
    if (!hook || this.stopped) return;
    Promise.resolve()
      .then(() => hook(runId))
      .then(
        () => this.fill(),
        (err: unknown) => this.opts.onHookError?.(runId, err),
      );
  }
}
