import type { DeviceInfo, RunController } from '../api/run-controller';
import type { Device } from './devices';
import type { Scheduler } from './scheduler';

/** Exposes the scheduler to the service (cancel/retry/pause/resume/devices), with live device readings. */
export class SchedulerController implements RunController {
  constructor(
    private readonly scheduler: Scheduler,
    /** Fresh nvidia-smi readings; the slot layout itself never changes while the app runs. */
    private readonly pollDevices: () => Promise<Device[]>,
  ) {}

  async cancel(runId: number): Promise<void> {
    this.scheduler.cancel(runId);
  }

  async retry(runId: number): Promise<void> {
    this.scheduler.retry(runId);
  }

  async pause(): Promise<void> {
    this.scheduler.pause();
  }

  async resume(): Promise<void> {
    this.scheduler.resume();
  }

  queueChanged(): void {
    this.scheduler.notify();
  }

  async devices(): Promise<DeviceInfo[]> {
    const live = new Map((await this.pollDevices()).map((d) => [d.id, d]));
    return this.scheduler.slotsView().map((slot) => {
      const device = live.get(slot.device.id) ?? slot.device;
      const free =
        device.memoryTotalMiB !== undefined && device.memoryUsedMiB !== undefined
          ? device.memoryTotalMiB - device.memoryUsedMiB
          : undefined;
      return {
        id: slot.label,
        kind: device.kind,
        name: device.kind === 'cpu' ? `${device.name}, slot ${slot.label.split(':')[1]}` : device.name,
        runId: slot.runId,
        memoryTotalMiB: device.memoryTotalMiB,
        memoryFreeMiB: free,
        utilizationPct: device.utilizationPct,
      };
    });
  }
}
