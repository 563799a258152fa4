import { join } from 'node:path';
import type { NormLabApi } from '../api';
import { ServiceError } from '../api/errors';
import type { LeaseState } from '../scheduler/scheduler';
import type { ExperimentStore } from '../store/experiment-store';
import type { RunRecord } from '../store/types';
import type { DoctorOptions, DoctorReport } from '../doctor';
import { expandSweep, parseSweepSpec, refuseDpIncompatibleModels, SweepSpecError } from '../sweeps';
import { datasetNameSchema, type RunSpec } from '../../src-worker/run-spec';
import type { LiveHub } from './live-events';

/**
 * What the UI needs beyond NormLabService today: the model registry, presets, a dry run of a sweep spec (run
 * count, problems, time estimate) and dataset downloads. They belong in the service (asked for in the issue
 * note); until then they live at the edge, built only from the store, the sweep expander and the registries.
 */
export interface ModelSummary {
  name: string;
  family: string;
  norm: 'kn' | 'bn' | 'gn' | 'ln' | 'nn';
  depth?: number;
  description: string;
}

export interface DatasetSummary {
  name: string;
  trainSize: number | null;
  /** Whether it must be downloaded (or pointed at) before a run can use it. */
  needsData: boolean;
  downloadable: boolean;
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
    }
  | { ok: false; problems: string[] };

export interface UiExtras {
  listModels(): Promise<ModelSummary[]>;
  listPresets(): Promise<{ name: string; description: string }[]>;
  listDatasets(): Promise<DatasetSummary[]>;
  previewSweep(spec: unknown): Promise<SweepPreview>;
  /** Total runs matching a filter, for paging the runs list. */
  countRuns(filter?: { sweepId?: number; status?: RunRecord['status'] | RunRecord['status'][] }): Promise<number>;
  /** Starts a download; progress arrives as live `download` events. */
  downloadDataset(name: string): Promise<{ started: boolean }>;
  /** Who places this store's runs (this server or another process) and this server's own pause flag. */
  queueState(): Promise<QueueState>;
  /**
   * `normlab doctor` on the machine running NormLab: GPUs, native TensorFlow, WebGPU adapters, wasm, what `auto`
   * picks, and with `bench` a few-second benchmark per backend (~20 s in all). A read; one at a time.
   */
  doctor(opts?: { bench?: boolean }): Promise<DoctorReport>;
}

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

export type AppApi = NormLabApi & UiExtras;

const TRAIN_SIZES: Record<string, number> = { cifar10: 50_000, cifar100: 50_000, imagenet32: 1_281_167 };
const SYNTHETIC_TRAIN_SIZE = 5000;

function trainSize(spec: RunSpec): number | null {
  if (spec.dataset === 'synthetic') return spec.syntheticTrainSize ?? SYNTHETIC_TRAIN_SIZE;
  return TRAIN_SIZES[spec.dataset] ?? null;
}

export interface UiExtrasOptions {
  store: ExperimentStore;
  service: NormLabApi;
  live: LiveHub;
  dataDir: string;
  /** This server's scheduler, when it has one. */
  scheduler?: { isPaused(): boolean; lease(): LeaseState };
  /** For `doctor`: the nvidia-smi to ask, where to look for tfjs-node(-gpu), … (the defaults otherwise). */
  doctor?: Omit<DoctorOptions, 'bench' | 'onProgress'>;
}

export function createUiExtras(opts: UiExtrasOptions): UiExtras {
  const { store, service, live } = opts;
  const downloads = new Set<string>();
  // probes and benchmarks start child processes: a second caller waits for the one under way
  const doctorRuns = new Map<boolean, Promise<DoctorReport>>();

  /** Images per second per model from finished runs: a rough but honest basis for an estimate. */
  function throughputByModel(): Map<string, number> {
    const sums = new Map<string, { images: number; seconds: number }>();
    for (const run of store.listRuns({ status: 'finished', limit: 500 })) {
      const size = trainSize(run.spec);
      if (!size || !run.startedAt || !run.finishedAt || run.finishedAt <= run.startedAt) continue;
      const s = sums.get(run.model) ?? { images: 0, seconds: 0 };
      s.images += size * (run.epochsCompleted ?? run.epochs);
      s.seconds += (run.finishedAt - run.startedAt) / 1000;
      sums.set(run.model, s);
    }
    return new Map([...sums].map(([model, s]) => [model, s.images / s.seconds]));
  }

  return {
    async listModels() {
      // imported on first use: the registry pulls in tfjs, which a store-only CLI command should not load
      const { listModels } = await import('../../src-worker/models');
      return listModels().map((m) => ({ name: m.name, family: m.family, norm: m.norm, depth: m.depth, description: m.description }));
    },

    async listPresets() {
      const { listPresets } = await import('../../src-worker/train/presets');
      return listPresets().map((p) => ({ name: p.name, description: p.description }));
    },

    async listDatasets() {
      const { existsSync } = await import('node:fs');
      return datasetNameSchema.options.map((name) => {
        const downloadable = name === 'cifar10' || name === 'cifar100';
        const folder = name === 'cifar10' ? 'cifar-10-batches-bin' : name === 'cifar100' ? 'cifar-100-binary' : null;
        return {
          name,
          trainSize: TRAIN_SIZES[name] ?? (name === 'synthetic' ? SYNTHETIC_TRAIN_SIZE : null),
          needsData: name !== 'synthetic',
          downloadable,
          present: folder ? existsSync(join(opts.dataDir, folder)) : name === 'synthetic' ? true : null,
          downloadDir: downloadable ? opts.dataDir : null,
        };
      });
    },

    async previewSweep(input) {
      let expansion: ReturnType<typeof expandSweep>;
      let spec: ReturnType<typeof parseSweepSpec>;
      try {
        spec = parseSweepSpec(input);
        expansion = expandSweep(spec);
        await refuseDpIncompatibleModels(spec, expansion.runs);
      } catch (error) {
        if (error instanceof SweepSpecError) return { ok: false, problems: error.problems };
        throw error;
      }
      const families = expansion.runs.length;
      const maxRuns = spec.lrSearch ? families * (spec.lrSearch.maxSteps + spec.lrSearch.repeats - 1) : expansion.runs.length;
      const speeds = throughputByModel();
      const slots = Math.max(1, (await service.devices()).length);
      let seconds = 0;
      let unknown = 0;
      const perRunFactor = spec.lrSearch ? maxRuns / Math.max(1, families) : 1;
      for (const run of expansion.runs) {
        const size = trainSize(run);
        const speed = speeds.get(run.model);
        if (!size || !speed) {
          unknown++;
          continue;
        }
        seconds += (size * run.epochs * perRunFactor) / speed;
      }
      const known = expansion.runs.length - unknown;
      const estimateSec = known === 0 ? null : (seconds * (expansion.runs.length / known)) / slots;
      const estimateBasis =
        known === 0
          ? 'no finished runs of these models yet, so no measured speed to estimate from'
          : `measured speed of finished runs${unknown ? ` (${unknown} runs without one are assumed alike)` : ''}, ${slots} parallel slot${slots === 1 ? '' : 's'}${spec.lrSearch ? ', lr search at its longest' : ''}`;
      return { ok: true, runs: expansion.runs.length, groups: expansion.groups, maxRuns, estimateSec, estimateBasis };
    },

    async countRuns(filter = {}) {
      return store.countRuns(filter);
    },

    async downloadDataset(name) {
      if (name !== 'cifar10' && name !== 'cifar100') {
        throw new ServiceError('invalid_input', `data set "${name}" cannot be downloaded (only cifar10 and cifar100 can)`);
      }
      if (downloads.has(name)) return { started: false };
      downloads.add(name);
      const { downloadCifar } = await import('../../src-worker/data/download');
      void downloadCifar(name, {
        dataDir: opts.dataDir,
        onProgress: (p) => live.emit({ type: 'download', dataset: name, phase: p.phase, receivedBytes: p.receivedBytes, totalBytes: p.totalBytes }),
      })
        .then(() => live.emit({ type: 'download', dataset: name, phase: 'done', receivedBytes: 0 }))
        .catch((err: unknown) =>
          live.emit({ type: 'download', dataset: name, phase: 'error', receivedBytes: 0, message: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => downloads.delete(name));
      return { started: true };
    },

    async queueState() {
      const { scheduler } = opts;
      // the store's row is the truth; the scheduler's own state only says whether the holder is this server
      const lease = store.lease();
      const mine = scheduler?.lease();
      const scheduledBy: ScheduledBy | null = lease && {
        pid: lease.pid,
        host: lease.host,
        self: mine?.state === 'held' && mine.lease.owner === lease.owner,
        heartbeatAgeMs: Math.max(0, Date.now() - lease.heartbeatAt),
      };
      return { paused: scheduler ? scheduler.isPaused() : null, hasScheduler: scheduler !== undefined, scheduledBy };
    },

    async doctor(doctorOpts = {}) {
      const bench = doctorOpts.bench === true;
      const running = doctorRuns.get(bench);
      if (running) return running;
      const run = import('../doctor')
        .then(({ runDoctor }) => runDoctor({ ...opts.doctor, bench }))
        .finally(() => doctorRuns.delete(bench));
      doctorRuns.set(bench, run);
      return run;
    },
  };
}
