import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../src-worker/pid-alive';
import type { RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { JournalAck } from '../../src-worker/train/journal';
import type { LeaseHolder, LeaseRecord, LeaseResult } from '../store/lease';
import type { Device } from './devices';
import { forkWorker, type IdleWorker, type WorkerExit, type WorkerHandle } from './worker-process';

/** A run the store has handed to a slot (already marked running on that device). */
export interface ClaimedRun {
  id: number;
  spec: RunSpec;
  /** What the store holds of the run's journal; the worker replays the rest before training. */
  journalAck: JournalAck;
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
  /** Makes everything ingested so far durable. */
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
}

/** Whether this scheduler may place runs, and if not, who does. */
export type LeaseState =
  | { state: 'held'; lease: LeaseHolder }
  | { state: 'waiting'; holder: LeaseRecord }
  | { state: 'stopped' };

export interface SchedulerOptions {
  devices: Device[];
  /** Each run checkpoints into `<checkpointRoot>/run-<id>` unless its spec names a folder. */
  checkpointRoot: string;
  workerEntry?: string;
  /** How often to look for runs queued by another process. */
  pollMs?: number;
  /** After a cancel, how long a worker may take to checkpoint before it is killed. */
  cancelGraceMs?: number;
  /** A worker killed by a signal (OOM killer, kill -9) is retried this many times per run (default 2). */
  maxAutoRetries?: number;
  /** A lease whose heartbeat is older than this belongs to a dead scheduler (default 15 s). */
  leaseStaleMs?: number;
  /**
   * Start the next worker of a slot while its current run trains, when more runs are queued, so a hand-over
   * does not wait for process start-up and module loading. On by default.
   */
  warmSpares?: boolean;
}

interface Slot {
  device: Device;
  index: number;
  /** What the store records as the run's device: `gpu:1`, or `gpu:1#2` / `cpu:0` when a device has several slots. */
  label: string;
  running: { runId: number; handle: WorkerHandle; stopRequested: 'cancel' | 'interrupt' | null; lastError: string | null } | null;
  spare: IdleWorker | null;
}

export interface SlotView {
  label: string;
  device: Device;
  runId: number | null;
  pid: number | null;
  /** The worker started ahead for this slot's next run, if any. */
  sparePid: number | null;
}

function slotLabel(device: Device, index: number): string {
  if (device.kind === 'cpu') return `cpu:${index}`;
  return device.slots > 1 ? `${device.id}#${index}` : device.id;
}

export interface SchedulerEvents {
  event: [runId: number, event: WorkerEvent];
  runStarted: [runId: number, deviceId: string];
  runEnded: [runId: number, exit: WorkerExit];
  lease: [state: LeaseState];
}

/**
 * Decides what runs where: one worker process per slot, FIFO by priority as the store orders the queue.
 * What to run (sweeps, LR search) is decided elsewhere; this only places queued runs onto free slots.
 *
 * Only the holder of the store's lease places runs, so two processes on one DB never train a run twice: a
 * second scheduler waits (its process reads the store meanwhile) and takes over when the holder leaves or dies.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly slots: Slot[];
  private paused = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private filling = false;
  private readonly me: LeaseHolder = { owner: randomUUID(), pid: process.pid, host: hostname() };
  private leaseState: LeaseState = { state: 'stopped' };

  constructor(
    private readonly store: SchedulerStore,
    private readonly opts: SchedulerOptions,
  ) {
    super();
    this.slots = opts.devices.flatMap((device) =>
      Array.from({ length: device.slots }, (_, index) => ({ device, index, label: slotLabel(device, index), running: null, spare: null })),
    );
    if (this.slots.length === 0) throw new Error('Scheduler: no device slots (devices list is empty)');
  }

  /**
   * Takes the store's lease if it can, recovers what a dead scheduler left behind, then places runs and polls
   * for new work; without the lease it retries on every poll. Returns the number of runs recovered now.
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
    // recovery must come before any placement: a run this scheduler claims is 'running' too
    const recovered = this.store.recoverInterrupted(this.me.owner);
    this.emit('lease', this.leaseState);
    return recovered;
  }

  /** Another process judged this one dead and took the lease: its runs are not ours to train any more. */
  private leaseLost(): void {
    this.leaseState = { state: 'stopped' };
    for (const slot of this.slots) {
      this.dropSpare(slot);
      if (slot.running) this.stopRun(slot.running, 'interrupt');
    }
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

  slotsView(): SlotView[] {
    return this.slots.map((s) => ({
      label: s.label,
      device: s.device,
      runId: s.running?.runId ?? null,
      pid: s.running?.handle.pid ?? null,
      sparePid: s.spare?.pid ?? null,
    }));
  }

  runningRunIds(): number[] {
    return this.slots.flatMap((s) => (s.running ? [s.running.runId] : []));
  }

  /** Cancels a queued run at once, or asks a running worker to checkpoint and stop (killed after a grace period). */
  cancel(runId: number): boolean {
    const slot = this.slots.find((s) => s.running?.runId === runId);
    if (!slot?.running) return this.store.cancelQueued(runId);
    this.stopRun(slot.running, 'cancel');
    return true;
  }

  private stopRun(running: NonNullable<Slot['running']>, how: 'cancel' | 'interrupt'): void {
    // a cancel is the stronger word: a later interrupt (the app quitting) does not turn it into a pause
    if (running.stopRequested !== 'cancel') running.stopRequested = how;
    if (how === 'cancel') running.handle.cancel();
    else running.handle.interrupt();
    const grace = setTimeout(() => running.handle.kill(), this.opts.cancelGraceMs ?? 30_000);
    grace.unref();
    void running.handle.exited.then(() => clearTimeout(grace));
  }

  retry(runId: number): boolean {
    const ok = this.store.requeue(runId);
    if (ok) this.fill();
    return ok;
  }

  isIdle(): boolean {
    return this.slots.every((s) => !s.running) && (this.paused || !this.store.hasQueued());
  }

  /**
   * Stops placing runs and waits for the running ones; with `interruptRunning` they checkpoint and stop first,
   * ending `interrupted` so the next start resumes them (Ctrl-C means "stop for now", not "cancel"). The lease is
   * released last, once no worker of this scheduler is left.
   */
  async stop(opts: { interruptRunning?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const slot of this.slots) this.dropSpare(slot);
    const running = this.slots.flatMap((s) => (s.running ? [s.running] : []));
    if (opts.interruptRunning) for (const r of running) this.stopRun(r, 'interrupt');
    await Promise.all(running.map((r) => r.handle.exited));
    if (this.leaseState.state === 'held') this.store.releaseLease(this.me.owner);
    this.leaseState = { state: 'stopped' };
  }

  private fill(): void {
    if (this.filling || this.stopped || !this.started || this.leaseState.state !== 'held') return;
    this.filling = true;
    try {
      if (!this.paused) {
        for (const slot of this.slots) {
          if (slot.running) continue;
          const run = this.store.claimNextRun(slot.label, this.me.owner);
          if (!run) break;
          this.launch(slot, run);
        }
      }
      // a spare waiting for runs that will not come only holds memory
      if (!this.store.hasQueued()) for (const slot of this.slots) if (!slot.running) this.dropSpare(slot);
    } finally {
      this.filling = false;
    }
  }

  private launch(slot: Slot, run: ClaimedRun): void {
    const spec: RunSpec = {
      ...run.spec,
      runId: run.id,
      checkpointDir: run.spec.checkpointDir ?? this.store.checkpointDirFor(run.id, join(this.opts.checkpointRoot, `run-${run.id}`)),
      // a worker resumes from the newest checkpoint in its folder when there is one, including a checkpoint
      // an earlier attempt wrote but could not report before it was killed
      resume: true,
    };
    const worker = slot.spare?.alive ? slot.spare : this.forkFor(slot);
    if (slot.spare !== worker) this.dropSpare(slot);
    slot.spare = null;
    const handle = worker.start(spec, run.journalAck, (event) => {
      if (event.event === 'error' && slot.running?.runId === run.id) slot.running.lastError = event.reason;
      this.store.ingestEvent(run.id, event);
      // listeners acknowledge events (print them, push them to the UI): what they see must be on disk
      // already. Progress events are live-only and need no flush.
      if (event.event !== 'progress') this.store.flush();
      this.emit('event', run.id, event);
    });
    slot.running = { runId: run.id, handle, stopRequested: null, lastError: null };
    if (this.opts.warmSpares !== false && this.store.hasQueued()) slot.spare = this.forkFor(slot);
    this.emit('runStarted', run.id, slot.label);
    void handle.exited.then((exit) => this.onExit(slot, run.id, exit));
  }

  private forkFor(slot: Slot): IdleWorker {
    return forkWorker({
      entry: this.opts.workerEntry,
      // CPU slots hide every GPU so a stray tfjs-node-gpu does not grab one
      cudaVisibleDevices: slot.device.kind === 'gpu' ? String(slot.device.index) : '',
      ...(slot.device.kind === 'gpu' ? { gpu: { name: slot.device.name, ordinal: this.sameNameOrdinal(slot.device) } } : {}),
    });
  }

  /** Which of the GPUs with this device's name it is, in nvidia-smi's order. */
  private sameNameOrdinal(device: Device): number {
    const twins = [...new Set(this.slots.map((s) => s.device))].filter((d) => d.kind === 'gpu' && d.name === device.name);
    return twins.indexOf(device);
  }

  private dropSpare(slot: Slot): void {
    slot.spare?.dispose();
    slot.spare = null;
  }

  private onExit(slot: Slot, runId: number, exit: WorkerExit): void {
    const stopRequested = slot.running?.stopRequested ?? null;
    const lastError = slot.running?.lastError ?? null;
    slot.running = null;
    if (!exit.sawDone) {
      if (stopRequested === 'cancel') this.store.markCancelled(runId);
      else if (stopRequested === 'interrupt') this.store.markInterrupted(runId);
      else {
        const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
        const reason = lastError ?? `worker process ${how} before finishing`;
        // a killed worker (the OOM killer, kill -9) is worth another try from its last checkpoint; a crash is not
        if (exit.signal && lastError === null) this.store.failOrRetry(runId, reason, exit.stderrTail, this.opts.maxAutoRetries ?? 2);
        else this.store.markFailed(runId, reason, exit.stderrTail);
      }
    } else if (stopRequested === null && !this.stopped && this.store.isInterrupted(runId)) {
      // the worker alone was told to stop for now (a signal to it, not to us): it resumes here
      this.store.requeue(runId);
    }
    this.emit('runEnded', runId, exit);
    this.fill();
  }
}
