import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { Device } from './devices';
import { forkWorker, type IdleWorker, type WorkerExit, type WorkerHandle } from './worker-process';

/** A run the store has handed to a slot (already marked running on that device). */
export interface ClaimedRun {
  id: number;
  spec: RunSpec;
}

/** What the scheduler needs from the experiment store; nothing more, so it can be tested in isolation. */
export interface SchedulerStore {
  claimNextRun(deviceId: string): ClaimedRun | null;
  ingestEvent(runId: number, event: WorkerEvent): void;
  /** Makes everything ingested so far durable. */
  flush(): void;
  markFailed(runId: number, reason: string, stderrTail: string): void;
  markCancelled(runId: number): void;
  cancelQueued(runId: number): boolean;
  requeue(runId: number): boolean;
  /** Runs left `running` by a process that died become `interrupted`, then queued again to resume. */
  recoverInterrupted(): number;
  hasQueued(): boolean;
}

export interface SchedulerOptions {
  devices: Device[];
  /** Each run checkpoints into `<checkpointRoot>/run-<id>` unless its spec names a folder. */
  checkpointRoot: string;
  workerEntry?: string;
  /** How often to look for runs queued by another process. */
  pollMs?: number;
  /** After a cancel, how long a worker may take to checkpoint before it is killed. */
  cancelGraceMs?: number;
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
  running: { runId: number; handle: WorkerHandle; cancelRequested: boolean; lastError: string | null } | null;
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
}

/**
 * Decides what runs where: one worker process per slot, FIFO by priority as the store orders the queue.
 * What to run (sweeps, LR search) is decided elsewhere; this only places queued runs onto free slots.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly slots: Slot[];
  private paused = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private filling = false;

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

  /** Recovers runs a dead process left behind, then starts filling slots and polling for new work. */
  start(): number {
    if (this.started) return 0;
    // recovery must come before any placement: a run claimed by this process is 'running' too
    const recovered = this.store.recoverInterrupted();
    this.started = true;
    this.timer = setInterval(() => this.fill(), this.opts.pollMs ?? 1000);
    this.timer.unref();
    this.fill();
    return recovered;
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
    const running = slot.running;
    running.cancelRequested = true;
    running.handle.cancel();
    const grace = setTimeout(() => running.handle.kill(), this.opts.cancelGraceMs ?? 30_000);
    grace.unref();
    void running.handle.exited.then(() => clearTimeout(grace));
    return true;
  }

  retry(runId: number): boolean {
    const ok = this.store.requeue(runId);
    if (ok) this.fill();
    return ok;
  }

  isIdle(): boolean {
    return this.slots.every((s) => !s.running) && (this.paused || !this.store.hasQueued());
  }

  /** Stops placing runs; with `cancelRunning`, checkpoints and stops the running ones and waits for them. */
  async stop(opts: { cancelRunning?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const slot of this.slots) this.dropSpare(slot);
    const running = this.slots.flatMap((s) => (s.running ? [s.running] : []));
    if (opts.cancelRunning) for (const r of running) this.cancel(r.runId);
    await Promise.all(running.map((r) => r.handle.exited));
  }

  private fill(): void {
    if (this.filling || this.stopped || !this.started) return;
    this.filling = true;
    try {
      if (!this.paused) {
        for (const slot of this.slots) {
          if (slot.running) continue;
          const run = this.store.claimNextRun(slot.label);
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
      checkpointDir: run.spec.checkpointDir ?? join(this.opts.checkpointRoot, `run-${run.id}`),
      // a worker resumes from the newest checkpoint in its folder when there is one, including a checkpoint
      // an earlier attempt wrote but could not report before it was killed
      resume: true,
    };
    const worker = slot.spare?.alive ? slot.spare : this.forkFor(slot);
    if (slot.spare !== worker) this.dropSpare(slot);
    slot.spare = null;
    const handle = worker.start(spec, (event) => {
      if (event.event === 'error' && slot.running?.runId === run.id) slot.running.lastError = event.reason;
      this.store.ingestEvent(run.id, event);
      // listeners acknowledge events (print them, push them to the UI): what they see must be on disk
      // already. Progress events are live-only and need no flush.
      if (event.event !== 'progress') this.store.flush();
      this.emit('event', run.id, event);
    });
    slot.running = { runId: run.id, handle, cancelRequested: false, lastError: null };
    if (this.opts.warmSpares !== false && this.store.hasQueued()) slot.spare = this.forkFor(slot);
    this.emit('runStarted', run.id, slot.label);
    void handle.exited.then((exit) => this.onExit(slot, run.id, exit));
  }

  private forkFor(slot: Slot): IdleWorker {
    return forkWorker({
      entry: this.opts.workerEntry,
      // CPU slots hide every GPU so a stray tfjs-node-gpu does not grab one
      cudaVisibleDevices: slot.device.kind === 'gpu' ? String(slot.device.index) : '',
    });
  }

  private dropSpare(slot: Slot): void {
    slot.spare?.dispose();
    slot.spare = null;
  }

  private onExit(slot: Slot, runId: number, exit: WorkerExit): void {
    const cancelRequested = slot.running?.cancelRequested ?? false;
    const lastError = slot.running?.lastError ?? null;
    slot.running = null;
    if (!exit.sawDone) {
      if (cancelRequested) this.store.markCancelled(runId);
      else {
        const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
        const reason = lastError ?? `worker process ${how} before finishing`;
        this.store.markFailed(runId, reason, exit.stderrTail);
      }
    }
    this.emit('runEnded', runId, exit);
    this.fill();
  }
}
