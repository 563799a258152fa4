import type { RunSpec, RunStatus, FinalMetrics } from '../../src-worker/protocol';
import type { DistributionSummary, NormLayerStats } from '../../src-worker/kn/stats';

/** Every type here is plain data (numbers, strings, arrays, objects) so it can cross IPC and HTTP unchanged. */

/** The state machine (statuses, transitions, user actions) lives in run-states.ts; the list is re-exported here. */
export { RUN_STATUSES } from './run-states';

/** Times are milliseconds since the Unix epoch. */
export interface SweepRecord {
  id: number;
  name: string;
  /** The sweep spec as last submitted. */
  spec: unknown;
  priority: number;
  createdAt: number;
  updatedAt: number;
}

export interface SweepSummary extends SweepRecord {
  runCounts: Record<RunStatus, number>;
  totalRuns: number;
}

export interface RunRecord {
  id: number;
  sweepId: number;
  groupKey: string;
  model: string;
  dataset: string;
  seed: number;
  lr: number;
  batchSize: number;
  epochs: number;
  status: RunStatus;
  priority: number;
  device: string | null;
  attempts: number;
  errorReason: string | null;
  stderrTail: string | null;
  /** The resolved run spec, with runId set to this run's id. */
  spec: RunSpec;
  finalTestAcc: number | null;
  bestTestAcc: number | null;
  finalTestLoss: number | null;
  epochsCompleted: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The scheduler lease (LeaseHolder.owner) that last claimed the run. */
  owner: string | null;
  /** Where the run's checkpoints and event journal live; fixed when it is first claimed. */
  checkpointDir: string | null;
  /** How much of the run's event journal the store holds (a worker replays the rest). */
  journalAck: { journal: string | null; seq: number };
  /** Automatic requeues after the worker was killed (OOM killer, kill -9). */
  autoRetries: number;
  /** The executor's handle of the run's latest job (a Slurm job id); kept after the run ends, for the record. */
  jobId: string | null;
}

export interface RunFilter {
  sweepId?: number;
  /** One status or any of several. */
  status?: RunStatus | RunStatus[];
  groupKey?: string | string[];
  model?: string;
  dataset?: string;
  ids?: number[];
  /** Defaults: all rows, ordered by id. */
  limit?: number;
  offset?: number;
}

export interface AddRunsResult {
  /** One entry per spec given, in order. */
  runs: { id: number; created: boolean; status: RunStatus }[];
  created: number;
  existing: number;
}

export interface MetricPoint {
  step: number;
  /** NaN when the worker reported a non-number (a diverged loss). */
  value: number;
  time: number;
}

export interface LatestMetric extends MetricPoint {
  key: string;
}

export interface NormStatsRecord {
  id: number;
  runId: number;
  epoch: number;
  step: number;
  layer: string;
  kind: NormLayerStats['kind'];
  mean: DistributionSummary;
  std: DistributionSummary;
  time: number;
}

export interface CheckpointRecord {
  id: number;
  runId: number;
  epoch: number;
  path: string;
  reason: 'periodic' | 'cancel' | 'final';
  time: number;
}

export interface LogRecord {
  id: number;
  runId: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  time: number;
}

export interface MeanSd {
  /** Number of runs that had a value. */
  n: number;
  mean: number | null;
  /** Sample standard deviation (n − 1); null with fewer than two values. */
  sd: number | null;
}

/** Mean ± SD over the seeds of one config group. Only finished runs enter the statistics. */
export interface GroupAggregate {
  groupKey: string;
  model: string;
  dataset: string;
  lr: number;
  batchSize: number;
  epochs: number;
  /** The group's configuration (the run spec without seed and execution-only fields). */
  config: Record<string, unknown>;
  /** Finished runs. */
  n: number;
  seeds: number[];
  /** Runs of the group by status, so a reader sees what was left out. */
  runCounts: Partial<Record<RunStatus, number>>;
  finalTestAcc: MeanSd;
  bestTestAcc: MeanSd;
  finalTestLoss: MeanSd;
}

export interface AggregateFilter {
  sweepId?: number;
  groupKey?: string | string[];
  model?: string;
  dataset?: string;
}

export interface CurvePoint {
  epoch: number;
  n: number;
  mean: number | null;
  sd: number | null;
}

export interface GroupCurve {
  groupKey: string;
  metric: string;
  points: CurvePoint[];
}

/** One history row as exported. */
export interface MetricExportRow {
  runId: number;
  sweepId: number;
  groupKey: string;
  model: string;
  seed: number;
  epoch: number;
  key: string;
  value: number;
  time: number;
}

export type { RunSpec, RunStatus, FinalMetrics };
