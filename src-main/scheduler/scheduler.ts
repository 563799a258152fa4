import type { Device } from './devices';
import { LocalExecutor, type SlotView } from './local-executor';
import { SchedulingPolicy, type PolicyOptions } from './policy';
import type { SchedulerStore } from './scheduler-store';

export type { AttachableRun, ClaimedRun, LeaseState, SchedulerStore } from './scheduler-store';
export type { SchedulerEvents, EarlyStopping } from './policy';
export type { SlotView } from './local-executor';

export interface SchedulerOptions extends PolicyOptions {
  devices: Device[];
  workerEntry?: string;
  /**
   * Start the next worker of a slot while its current run trains, when more runs are queued, so a hand-over
   * does not wait for process start-up and module loading. On by default.
   */
  warmSpares?: boolean;
}

/**
 * The scheduling policy placing runs on this machine's device slots: one worker process per slot, FIFO by
 * priority as the store orders the queue (policy.ts decides, local-executor.ts runs the workers).
 */
export class Scheduler extends SchedulingPolicy {
  private readonly local: LocalExecutor;

  constructor(store: SchedulerStore, opts: SchedulerOptions) {
    const local = new LocalExecutor({ devices: opts.devices, workerEntry: opts.workerEntry, warmSpares: opts.warmSpares });
    super(store, local, opts);
    this.local = local;
  }

  slotsView(): SlotView[] {
    return this.local.slotsView();
  }
}
