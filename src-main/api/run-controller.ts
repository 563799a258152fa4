/**
 * The part of the service that needs live processes: implemented by the scheduler (src-main/scheduler) and
 * injected into NormLabService, so the service, the CLI and the HTTP server never depend on the scheduler's
 * internals, and a store-only service (an export, a viewer) works without one.
 */
export interface DeviceInfo {
  /** Stable id used in runs.device, e.g. `gpu:0`, `cpu:1`. */
  id: string;
  kind: 'gpu' | 'cpu';
  /** Human-readable, e.g. "NVIDIA A100 80GB" or "CPU slot 2". */
  name: string;
  /** Run occupying the device, or null when idle. */
  runId: number | null;
  /** Total and free memory in MiB when known (nvidia-smi). */
  memoryTotalMiB?: number;
  memoryFreeMiB?: number;
  /** GPU utilization in percent when known (nvidia-smi). */
  utilizationPct?: number;
}

export interface RunController {
  /** Stops a running run (the worker checkpoints and reports `cancelled`) or drops a queued one. */
  cancel(runId: number): Promise<void>;
  /**
   * Puts a run back in the queue (the statuses run-states.ts allows), to resume from its latest checkpoint. The
   * service checks the transition first and reads the run back afterwards, so a refusal here is never silent.
   */
  retry(runId: number): Promise<void>;
  /** Stops starting new runs; running ones continue. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  devices(): Promise<DeviceInfo[]>;
  /** Called after runs were queued (a submitted sweep, new lr-search runs) so the scheduler need not poll. */
  queueChanged?(): void;
}
