import type { RunSpec } from './run-spec';
import type { NormLayerStats } from './kn/stats';
import type { JournalAck } from './train/journal';
import type { GpuAdapterReport } from './webgpu-backend';

/**
 * Typed messages between a worker process and whoever started it (the scheduler or the CLI).
 * Transport: Node IPC (`process.send`) when forked, or JSON lines on stdout with `--json`.
 */

export type RunStatus = 'queued' | 'running' | 'finished' | 'failed' | 'diverged' | 'cancelled' | 'interrupted';

/**
 * Parent → worker. `start` carries what the store already holds of the run's journal, so the worker replays
 * only the rest. `cancel` is a user's decision (the run ends cancelled); `interrupt` is "stop for now" (Ctrl-C,
 * the app quitting): the run ends interrupted and resumes on the next start.
 */
export type ParentMessage =
  | { type: 'start'; spec: RunSpec; journalAck?: JournalAck }
  | { type: 'cancel' }
  | { type: 'interrupt' };

/** Per-epoch metric keys, written to the store as (run, key, epoch, value). Accuracies are fractions. */
export interface EpochMetrics {
  train_loss: number;
  /** NaN in DP-SGD runs: the per-sample-gradient pass does not expose its predictions (train/dp-steps.ts). */
  train_acc: number;
  test_loss: number;
  test_acc: number;
  test_acc5: number;
  lr: number;
  epoch_time_s: number;
  images_per_s: number;
  num_tensors: number;
  /** Share of the epoch's training time spent waiting for data (absent in runs recorded before it existed). */
  data_wait_frac?: number;
  /** Only in DP runs: privacy spent up to the end of this epoch, at the spec's δ. */
  epsilon?: number;
  /** Only with --model-ema: test top-1 of the exponential moving average of the weights. */
  test_acc_ema?: number;
}

/**
 * One point of the step-level curves, stored as metrics `step/train_loss` and `step/lr` at `step`: the global
 * optimizer step (1-based, counted across epochs and resumes). `train_loss` is the example-weighted mean over the
 * steps since the previous point (absent when none of them drew an example, as a DP step may not); `lr` is the
 * rate the point's own step trained with.
 */
export const STEP_METRIC_KEYS = { trainLoss: 'step/train_loss', lr: 'step/lr' } as const;
/** Step-level keys count optimizer steps in their `step` column; every other metric counts epochs. */
export function isStepMetricKey(key: string): boolean {
  return key.startsWith('step/');
}

export interface StepPoint {
  step: number;
  train_loss?: number;
  lr: number;
}

/** Every journaled event carries its journal id and sequence number (absent when the run has no journal). */
interface Stamp {
  journal?: string;
  seq?: number;
}

export type WorkerEvent = Stamp & (
  | {
      event: 'started';
      runId?: number;
      backend: string;
      device: string;
      /** The CUDA_VISIBLE_DEVICES the worker was given (absent when unset), even if it fell back to the CPU. */
      cudaVisibleDevices?: string;
      skippedBackends: { backend: string; reason: string }[];
      /** The WebGPU adapter, when the backend is webgpu. */
      adapter?: GpuAdapterReport;
      resumedFromEpoch: number;
      numParams: number;
    }
  | { event: 'progress'; runId?: number; epoch: number; batch: number; batchesPerEpoch: number; imagesPerSec: number; etaSec: number; loss: number }
  | { event: 'epoch'; runId?: number; epoch: number; metrics: EpochMetrics }
  /** The step points of `epoch` (1-based) trained since the last such event: sent at the epoch's end or at a stop. */
  | { event: 'steps'; runId?: number; epoch: number; points: StepPoint[] }
  | { event: 'norm_stats'; runId?: number; epoch: number; step: number; layers: NormLayerStats[] }
  | { event: 'checkpoint'; runId?: number; epoch: number; path: string; reason: 'periodic' | 'cancel' | 'final' }
  | { event: 'log'; runId?: number; level: 'info' | 'warn' | 'error'; message: string }
  | { event: 'error'; runId?: number; reason: string; detail?: string }
  | { event: 'done'; runId?: number; status: DoneStatus; metrics: FinalMetrics }
);

/** How a worker's run ended; `interrupted` means it checkpointed to be resumed, not that it is over. */
export type DoneStatus = Extract<RunStatus, 'finished' | 'diverged' | 'cancelled' | 'failed' | 'interrupted'>;

export interface FinalMetrics {
  test_acc: number;
  test_acc5: number;
  test_loss: number;
  train_loss: number;
  train_acc: number;
  best_test_acc: number;
  epochs_completed: number;
}

export type { RunSpec };
