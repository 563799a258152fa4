import type { Device } from './devices';
import type { CapacityUnit, Executor, ExecutorRun, RunEnd, RunLaunch, RunObserver, UnitView } from './executor';
import { forkWorker, type IdleWorker, type WorkerExit, type WorkerHandle } from './worker-process';

export interface LocalExecutorOptions {
  devices: Device[];
  workerEntry?: string;
  /** Start the next worker of a busy slot ahead while more runs are queued (see SchedulerOptions.warmSpares). */
  warmSpares?: boolean;
}

/** One device slot as the UI shows it. */
export interface SlotView {
  label: string;
  device: Device;
  runId: number | null;
  pid: number | null;
  /** The worker started ahead for this slot's next run, if any. */
  sparePid: number | null;
}

interface Slot {
  device: Device;
  label: string;
  running: ExecutorRun | null;
  spare: IdleWorker | null;
}

function slotLabel(device: Device, index: number): string {
  if (device.kind === 'cpu') return `cpu:${index}`;
  return device.slots > 1 ? `${device.id}#${index}` : device.id;
}

/** What a worker's exit says about how its run ended. */
export function localRunEnd(exit: WorkerExit): RunEnd {
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return { ...exit, killed: exit.signal !== null, summary: `worker process ${how}` };
}

/**
 * Runs each run in a worker process forked on this machine, one per device slot (several per device when it
 * has several slots). While more runs are queued, each busy slot keeps a worker started ahead (a warm spare)
 * that has already loaded its modules, so a hand-over does not wait for process start-up.
 */
export class LocalExecutor implements Executor {
  private readonly slots: Slot[];

  constructor(private readonly opts: LocalExecutorOptions) {
    this.slots = opts.devices.flatMap((device) =>
      Array.from({ length: device.slots }, (_, index) => ({ device, label: slotLabel(device, index), running: null, spare: null })),
    );
    if (this.slots.length === 0) throw new Error('Scheduler: no device slots (devices list is empty)');
  }

  units(): UnitView[] {
    return this.slots.map((s) => ({ label: s.label, device: s.device, runId: s.running?.runId ?? null }));
  }

  freeUnits(): CapacityUnit[] {
    return this.slots.filter((s) => !s.running).map((s) => ({ label: s.label, device: s.device }));
  }

  slotsView(): SlotView[] {
    return this.slots.map((s) => ({
      label: s.label,
      device: s.device,
      runId: s.running?.runId ?? null,
      pid: s.running?.pid ?? null,
      sparePid: s.spare?.pid ?? null,
    }));
  }

  start(unit: string, launch: RunLaunch, observer: RunObserver): ExecutorRun {
    const slot = this.slots.find((s) => s.label === unit);
    if (!slot) throw new Error(`local executor: no slot ${unit} (slots: ${this.slots.map((s) => s.label).join(', ')})`);
    if (slot.running) throw new Error(`local executor: slot ${unit} already runs run ${slot.running.runId}`);
    const worker = slot.spare?.alive ? slot.spare : this.forkFor(slot);
    if (slot.spare !== worker) this.dropSpare(slot);
    slot.spare = null;
    const handle = worker.start(launch.spec, launch.journalAck, (event) => observer.onEvent(event));
    const run = workerRun(launch.runId, unit, handle);
    slot.running = run;
    void run.ended.then(() => {
      if (slot.running === run) slot.running = null;
    });
    return run;
  }

  /** A worker process dies with the manager that forked it, so there is never anything to re-attach to. */
  reattach(): ExecutorRun | null {
    return null;
  }

  running(): ExecutorRun[] {
    return this.slots.flatMap((s) => (s.running ? [s.running] : []));
  }

  anticipate(moreQueued: boolean): void {
    for (const slot of this.slots) {
      // a spare waiting for runs that will not come only holds memory
      if (!moreQueued) this.dropSpare(slot);
      // a dead spare is replaced when its slot's next run starts, not here: a worker that cannot start would
      // otherwise be forked again on every poll
      else if (this.opts.warmSpares !== false && slot.running && !slot.spare) slot.spare = this.forkFor(slot);
    }
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
}

function workerRun(runId: number, unit: string, handle: WorkerHandle): ExecutorRun {
  return {
    runId,
    unit,
    phase: 'running',
    pid: handle.pid ?? null,
    cancel: () => handle.cancel(),
    interrupt: () => handle.interrupt(),
    kill: () => handle.kill(),
    ended: handle.exited.then(localRunEnd),
  };
}
