import type { CheckpointRecord, LatestMetric, RunRecord, RunStatus } from '../store/types';
import type { LrSearchDecision } from '../sweeps/lr-search';
import type { ModelFamily, NormKind } from '../../src-worker/models/types';

/** What the service returns. Everything is plain data, so it crosses IPC (structured clone) and HTTP (JSON) unchanged. */

export interface SubmitSweepResult {
  sweepId: number;
  name: string;
  /** False when a sweep of this name existed and the spec was added to it. */
  sweepCreated: boolean;
  groups: number;
  runs: {
    /** Runs the spec asks for now (for an lr search: the runs the searcher has proposed so far). */
    total: number;
    created: number;
    existing: number;
    /** Statuses of the runs that already existed, e.g. { finished: 6 }. */
    existingByStatus: Partial<Record<RunStatus, number>>;
  };
  lrSearch: LrSearchFamilyState[] | null;
}

export interface LrSearchFamilyState extends LrSearchDecision {
  familyKey: string;
  /** The family's config in short: model and dataset. */
  model: string;
  dataset: string;
}

export interface AdvanceLrSearchResult {
  added: number;
  families: LrSearchFamilyState[];
}

export interface RunDetail {
  run: RunRecord;
  params: Record<string, string>;
  latestMetrics: Record<string, LatestMetric>;
  latestCheckpoint: CheckpointRecord | null;
}

export type ExportResult = { rows: number; path: string } | { rows: number; csv: string };

export interface ModelSummary {
  name: string;
  family: ModelFamily;
  norm: NormKind;
  depth?: number;
  description: string;
  /** The registry's task: 'segmentation' for the fully convolutional models, absent for classifiers. */
  task?: 'segmentation';
}

export interface DatasetSummary {
  name: string;
  trainSize: number | null;
  /** Whether it must be downloaded (or pointed at) before a run can use it. */
  needsData: boolean;
  downloadable: boolean;
  /** Whether the download folder holds a complete copy; null where there is no such folder to look in. */
  present: boolean | null;
  /** The data folder downloads go to on the machine running NormLab (what a run's dataDir should be). */
  downloadDir: string | null;
}

export type SweepPreview =
  | {
      ok: true;
      runs: number;
      groups: number;
      /** With an lr search only the first lr is queued; the searcher may add up to this many runs in total. */
      maxRuns: number;
      /** Estimated wall-clock seconds on the attached devices, null when no finished run gives a throughput. */
      estimateSec: number | null;
      estimateBasis: string;
      /** What the doctor's micro-benchmark alone estimates (null until it has measured), to set beside the measured figure. */
      benchEstimateSec?: number | null;
      /** The micro-benchmark is running and no other basis exists: ask again in a few seconds. */
      estimatePending?: boolean;
    }
  | { ok: false; problems: string[] };

/** The process holding the store's scheduling lease: the one that trains its runs. */
export interface ScheduledBy {
  pid: number;
  host: string;
  /** This server's own scheduler holds it: its workers' live events reach this server. */
  self: boolean;
  /** How long ago the holder last renewed the lease (a holder silent for long is likely gone). */
  heartbeatAgeMs: number;
}

export interface QueueState {
  /**
   * This server's scheduler's pause flag; null when it has none. It only decides anything while this server holds
   * the lease (`scheduledBy.self`); a waiting scheduler keeps it for when it takes over.
   */
  paused: boolean | null;
  /** This server has a scheduler (held or waiting for the lease); false for `serve --no-scheduler`. */
  hasScheduler: boolean;
  /** Null when no process holds the lease: nothing places queued runs now. */
  scheduledBy: ScheduledBy | null;
}

/** A download's progress, for whoever shows it (the server turns it into live `download` events). */
export interface DownloadEvent {
  dataset: string;
  phase: 'download' | 'verify' | 'extract' | 'done' | 'error';
  receivedBytes: number;
  totalBytes?: number;
  message?: string;
}

/** A sweep template with its options applied, before anything is queued (expandSweepTemplate). */
export interface SweepTemplatePreview {
  template: string;
  /** The sweeps it would submit, each with its run count. */
  sweeps: { name: string; runs: number }[];
  runs: number;
  configs: number;
}

/** What submitSweepTemplate queued: one submitted sweep per part of the template. */
export interface SubmitTemplateResult {
  template: string;
  sweeps: SubmitSweepResult[];
  runs: { total: number; created: number; existing: number };
}
