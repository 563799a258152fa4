import type { RunSpec } from '../../src-worker/run-spec';
import { isDownloadable } from '../../src-worker/data/registry';
import type { DoctorOptions, DoctorReport } from '../doctor';
import { exportCsvToFile, exportCsvToString } from '../export/csv';
import type { LeaseState } from '../scheduler/scheduler';
import { InvalidTransitionError } from '../store/errors';
import type { ExperimentStore } from '../store/experiment-store';
import { searchFamilyKey } from '../store/group-key';
import { canTransition, transitionSources } from '../store/run-states';
import { readSegPreviews, type SegPreviewSet } from '../store/seg-previews';
import type {
  CheckpointRecord, GroupAggregate, GroupCurve, LogRecord, MetricPoint, NormStatsRecord, RunRecord, RunStatus, SweepSummary,
} from '../store/types';
import { sweepSeeds } from '../sweeps/expand';
import { proposeLrTrials, type LrTrial } from '../sweeps/lr-search';
import { parseSweepSpec, SweepSpecError } from '../sweeps/spec';
import {
  expandSweepTemplate, listSweepTemplates, SweepTemplateError, type SweepTemplateOptionsInput, type SweepTemplateSummary, type TemplateExpansion,
} from '../sweeps/templates';
import { datasetSummaries, modelSummaries, presetSummaries } from './catalog';
import { cloneRun, effectiveEdits } from './clone-run';
import { ServiceError, toServiceError } from './errors';
import {
  parseAggregateFilter, parseCountFilter, parseDoctorOptions, parseExportFilter, parseExportKind, parseGroupKeys, parseId, parseLogQuery,
  parseName, parseOptionalName, parseRetryChanges, parseRunFilter,
} from './inputs';
import type { DeviceInfo, RunController } from './run-controller';
import type {
  AggregateFilterInput, CountFilterInput, DoctorOptionsInput, ExportFilterInput, LogQueryInput, RetryChanges,
  RunFilterInput, SweepSpecArg,
} from './schemas';
import { checkSweep } from './submit-checks';
import { previewOf } from './sweep-preview';
import type {
  AdvanceLrSearchResult, DatasetSummary, DownloadEvent, ExportResult, ModelSummary, QueueState, RunDetail, SubmitSweepResult,
  SubmitTemplateResult, SweepPreview, SweepTemplatePreview,
} from './types';

export type * from './types';

/**
 * The one API of NormLab: the CLI calls it directly, Electron exposes it over IPC as window.api, and
 * `normlab serve` over HTTP, all through the method table in src-main/server/routes.ts. Each parameter's type is
 * its schema's input (schemas.ts) and is parsed here again (callers may be a renderer or a remote client); every
 * failure is a ServiceError with a code of the one taxonomy (errors.ts).
 */
export interface NormLabApi {
  listSweeps(): Promise<SweepSummary[]>;
  getSweep(id: number): Promise<SweepSummary>;
  /** Checks the spec against the registries and the disk first: a refused sweep writes nothing. */
  submitSweep(spec: SweepSpecArg): Promise<SubmitSweepResult>;
  /** submitSweep's checks and a run count and time estimate, without queueing anything. */
  previewSweep(spec: SweepSpecArg): Promise<SweepPreview>;
  advanceLrSearch(sweepId: number): Promise<AdvanceLrSearchResult>;
  /** The built-in sweep templates (a paper's table as sweep specs), with their run counts. */
  listSweepTemplates(): Promise<SweepTemplateSummary[]>;
  /** A template's sweeps and run count with the options applied (width, epochs, dataDir); writes nothing. */
  expandSweepTemplate(name: string, options?: SweepTemplateOptionsInput): Promise<SweepTemplatePreview>;
  /**
   * Queues every sweep of a template, each as submitSweep would; every part is checked first, so a refused
   * template writes nothing. dataDir defaults to this service's data folder.
   */
  submitSweepTemplate(name: string, options?: SweepTemplateOptionsInput): Promise<SubmitTemplateResult>;
  listRuns(filter?: RunFilterInput): Promise<RunRecord[]>;
  /** Total runs matching a filter, for paging the runs list. */
  countRuns(filter?: CountFilterInput): Promise<number>;
  getRun(id: number): Promise<RunDetail>;
  getRunMetrics(id: number, key?: string): Promise<Record<string, MetricPoint[]>>;
  getRunLogs(id: number, options?: LogQueryInput): Promise<LogRecord[]>;
  getRunCheckpoints(id: number): Promise<CheckpointRecord[]>;
  /** A segmentation run's latest validation images with ground-truth and predicted masks; null until there are some. */
  getSegPreviews(runId: number): Promise<SegPreviewSet | null>;
  getNormStats(runId: number, layer?: string): Promise<NormStatsRecord[]>;
  listNormLayers(runId: number): Promise<{ layer: string; kind: NormStatsRecord['kind'] }[]>;
  compare(filter?: AggregateFilterInput): Promise<GroupAggregate[]>;
  curves(groupKeys: string[], metric: string): Promise<GroupCurve[]>;
  cancel(runId: number): Promise<RunRecord>;
  /**
   * Without changes: the run goes back in the queue (to resume from its checkpoint). With changed lr, epochs or
   * seed: a new run in the same sweep with the edited spec, the original left as it was ("clone and edit").
   */
  retry(runId: number, changes?: RetryChanges): Promise<RunRecord>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Who places this store's runs (this process or another one) and this process's own pause flag. */
  queueState(): Promise<QueueState>;
  devices(): Promise<DeviceInfo[]>;
  listModels(): Promise<ModelSummary[]>;
  listPresets(): Promise<{ name: string; description: string }[]>;
  listDatasets(): Promise<DatasetSummary[]>;
  /** Starts a download into the data folder; progress goes to the `onDownload` option. */
  downloadDataset(name: string): Promise<{ started: boolean }>;
  /**
   * `normlab doctor` on the machine running NormLab: GPUs, native TensorFlow, WebGPU adapters, wasm, what `auto`
   * picks, and with `bench` a few-second benchmark per backend (~20 s in all). A read; one at a time.
   */
  doctor(opts?: DoctorOptionsInput): Promise<DoctorReport>;
  /** `what` is one of EXPORT_KINDS; a string, as a CLI flag or a file name gives it, checked here. */
  exportCsv(what: string, filter?: ExportFilterInput, outPath?: string): Promise<ExportResult>;
}

export interface NormLabServiceOptions {
  /** Where data sets are downloaded and looked for (what a run's dataDir should be); none: no downloads. */
  dataDir?: string;
  /** The scheduler placing this store's runs in this process, for queueState. */
  scheduler?: { isPaused(): boolean; lease(): LeaseState };
  onDownload?: (event: DownloadEvent) => void;
  /** For `doctor`: the nvidia-smi to ask, where to look for tfjs-node(-gpu), … (the defaults otherwise). */
  doctor?: Omit<DoctorOptions, 'bench' | 'onProgress'>;
}

export class NormLabService implements NormLabApi {
  private readonly downloads = new Set<string>();
  // probes and benchmarks start child processes: a second caller waits for the one under way
  private readonly doctorRuns = new Map<boolean, Promise<DoctorReport>>();

  constructor(
    private readonly store: ExperimentStore,
    private readonly controller: RunController | null = null,
    private readonly options: NormLabServiceOptions = {},
  ) {}

  listSweeps(): Promise<SweepSummary[]> {
    return this.call(() => this.store.listSweeps());
  }

  getSweep(id: number): Promise<SweepSummary> {
    return this.call(() => this.requireSweep(parseId(id, 'sweep id')));
  }

  /**
   * Validates, expands and checks the spec, then queues its runs. Submitting again (same name) adds only what is
   * new: runs already present, finished or not, are counted as existing and left alone.
   */
  submitSweep(input: SweepSpecArg): Promise<SubmitSweepResult> {
    return this.call(async () => {
      const { spec, runs, groups } = await checkSweep(input);
      const { sweep, created } = this.store.upsertSweep({ name: spec.name, spec, priority: spec.priority });
      const added = this.store.addRuns(sweep.id, runs, { priority: spec.priority });
      const existingByStatus: Partial<Record<RunStatus, number>> = {};
      for (const run of added.runs) if (!run.created) existingByStatus[run.status] = (existingByStatus[run.status] ?? 0) + 1;
      const result: SubmitSweepResult = {
        sweepId: sweep.id,
        name: sweep.name,
        sweepCreated: created,
        groups,
        runs: { total: added.runs.length, created: added.created, existing: added.existing, existingByStatus },
        lrSearch: null,
      };
      if (spec.lrSearch) {
        // a re-submitted search may already have results that call for the next runs
        const advanced = this.advanceLrSearchNow(sweep.id);
        result.runs.total += advanced.added;
        result.runs.created += advanced.added;
        result.lrSearch = advanced.families;
      }
      if (result.runs.created > 0) this.controller?.queueChanged?.();
      return result;
    });
  }

  previewSweep(input: SweepSpecArg): Promise<SweepPreview> {
    return this.call(async () => {
      let checked: Awaited<ReturnType<typeof checkSweep>>;
      try {
        checked = await checkSweep(input);
      } catch (error) {
        if (error instanceof SweepSpecError) return { ok: false, problems: error.problems };
        throw error;
      }
      const slots = Math.max(1, (this.controller ? await this.controller.devices() : []).length);
      return previewOf(this.store, checked, slots);
    });
  }

  /** Asks the lr searcher for the next runs of every search family in the sweep and queues them. */
  advanceLrSearch(sweepId: number): Promise<AdvanceLrSearchResult> {
    return this.call(() => {
      const result = this.advanceLrSearchNow(parseId(sweepId, 'sweep id'));
      if (result.added > 0) this.controller?.queueChanged?.();
      return result;
    });
  }

  listSweepTemplates(): Promise<SweepTemplateSummary[]> {
    return this.call(() => listSweepTemplates());
  }

  expandSweepTemplate(name: string, options?: SweepTemplateOptionsInput): Promise<SweepTemplatePreview> {
    return this.call(() => {
      const expansion = this.templateExpansion(name, options);
      return {
        template: expansion.template,
        sweeps: expansion.specs.map((spec) => ({ name: spec.name, runs: expansion.runs.filter((r) => r.sweep === spec.name).length })),
        runs: expansion.runs.length,
        configs: expansion.configs,
      };
    });
  }

  submitSweepTemplate(name: string, options?: SweepTemplateOptionsInput): Promise<SubmitTemplateResult> {
    return this.call(async () => {
      const expansion = this.templateExpansion(name, options);
      for (const spec of expansion.specs) await checkSweep(spec);
      const sweeps: SubmitSweepResult[] = [];
      for (const spec of expansion.specs) sweeps.push(await this.submitSweep(spec));
      const sum = (pick: (r: SubmitSweepResult) => number) => sweeps.reduce((n, r) => n + pick(r), 0);
      return {
        template: expansion.template,
        sweeps,
        runs: { total: sum((r) => r.runs.total), created: sum((r) => r.runs.created), existing: sum((r) => r.runs.existing) },
      };
    });
  }

  /** For the scheduler (not an API method): call when a run has ended, so an lr search moves on without polling. */
  afterRunEnded(runId: number): Promise<AdvanceLrSearchResult> {
    return this.call(() => {
      const run = this.requireRun(parseId(runId, 'run id'));
      const result = this.advanceLrSearchNow(run.sweepId);
      if (result.added > 0) this.controller?.queueChanged?.();
      return result;
    });
  }

  listRuns(filter?: RunFilterInput): Promise<RunRecord[]> {
    return this.call(() => this.store.listRuns(parseRunFilter(filter)));
  }

  countRuns(filter?: CountFilterInput): Promise<number> {
    return this.call(() => this.store.countRuns(parseCountFilter(filter)));
  }

  getRun(id: number): Promise<RunDetail> {
    return this.call(() => {
      const run = this.requireRun(parseId(id, 'run id'));
      return {
        run,
        params: this.store.getParams(run.id),
        latestMetrics: this.store.getLatestMetrics(run.id),
        latestCheckpoint: this.store.latestCheckpoint(run.id) ?? null,
      };
    });
  }

  getRunMetrics(id: number, key?: string): Promise<Record<string, MetricPoint[]>> {
    return this.call(() => this.store.getMetrics(parseId(id, 'run id'), parseOptionalName(key, 'metric key')));
  }

  getRunLogs(id: number, options?: LogQueryInput): Promise<LogRecord[]> {
    return this.call(() => this.store.getLogs(parseId(id, 'run id'), parseLogQuery(options)));
  }

  getRunCheckpoints(id: number): Promise<CheckpointRecord[]> {
    return this.call(() => this.store.getCheckpoints(parseId(id, 'run id')));
  }

  getSegPreviews(runId: number): Promise<SegPreviewSet | null> {
    return this.call(() => readSegPreviews(this.requireRun(parseId(runId, 'run id')).checkpointDir));
  }

  getNormStats(runId: number, layer?: string): Promise<NormStatsRecord[]> {
    return this.call(() => this.store.getNormStats(parseId(runId, 'run id'), parseOptionalName(layer, 'layer')));
  }

  listNormLayers(runId: number): Promise<{ layer: string; kind: NormStatsRecord['kind'] }[]> {
    return this.call(() => this.store.listNormLayers(this.requireRun(parseId(runId, 'run id')).id));
  }

  compare(filter?: AggregateFilterInput): Promise<GroupAggregate[]> {
    return this.call(() => this.store.aggregates(parseAggregateFilter(filter)));
  }

  curves(groupKeys: string[], metric: string): Promise<GroupCurve[]> {
    return this.call(() => this.store.curves(parseGroupKeys(groupKeys), parseName(metric, 'metric')));
  }

  /**
   * With a scheduler attached it decides (it may have to stop a worker). Without one, only a queued run can be
   * cancelled, since nothing here could stop a process.
   */
  cancel(runId: number): Promise<RunRecord> {
    return this.call(async () => {
      const run = this.requireRun(parseId(runId, 'run id'));
      if (this.controller) {
        await this.controller.cancel(run.id);
        return this.requireRun(run.id);
      }
      if (run.status === 'running') {
        throw new ServiceError('unavailable', `run ${run.id} is running and no scheduler is attached to stop it`);
      }
      return this.store.cancelRun(run.id);
    });
  }

  /**
   * Only for a failed, diverged, cancelled or interrupted run (run-states.ts decides which); a refused retry (a
   * finished run) is a `conflict` error with the store's reason, never a silent no-op. Changes that leave every
   * field as it was are a plain retry.
   */
  retry(runId: number, changes?: RetryChanges): Promise<RunRecord> {
    return this.call(async () => {
      const run = this.requireRun(parseId(runId, 'run id'));
      const edits = effectiveEdits(run, parseRetryChanges(changes));
      if (!canTransition(run.status, 'queued')) {
        throw new InvalidTransitionError(run.id, run.status, 'queued', transitionSources('queued'));
      }
      if (Object.keys(edits).length > 0) {
        const clone = await cloneRun(this.store, run, edits, run.priority);
        this.controller?.queueChanged?.();
        return clone;
      }
      if (!this.controller) return this.store.requeue(run.id);
      await this.controller.retry(run.id);
      const after = this.requireRun(run.id);
      // the scheduler swallows a requeue that lost a race (the run changed meanwhile): say so rather than drop it
      if (after.status !== 'queued' && after.status !== 'running') {
        if (!canTransition(after.status, 'queued')) {
          throw new InvalidTransitionError(run.id, after.status, 'queued', transitionSources('queued'));
        }
        throw new ServiceError('conflict', `run ${run.id} was not requeued: it is still ${after.status}; see its log`);
      }
      return after;
    });
  }

  pause(): Promise<void> {
    return this.call(() => this.requireController('pause').pause());
  }

  resume(): Promise<void> {
    return this.call(() => this.requireController('resume').resume());
  }

  queueState(): Promise<QueueState> {
    return this.call(() => {
      const { scheduler } = this.options;
      // the store's row is the truth; the scheduler's own state only says whether the holder is this process
      const lease = this.store.lease();
      const mine = scheduler?.lease();
      return {
        paused: scheduler ? scheduler.isPaused() : null,
        hasScheduler: scheduler !== undefined,
        scheduledBy: lease && {
          pid: lease.pid,
          host: lease.host,
          self: mine?.state === 'held' && mine.lease.owner === lease.owner,
          heartbeatAgeMs: Math.max(0, Date.now() - lease.heartbeatAt),
        },
      };
    });
  }

  devices(): Promise<DeviceInfo[]> {
    return this.call(() => (this.controller ? this.controller.devices() : []));
  }

  listModels(): Promise<ModelSummary[]> {
    return this.call(() => modelSummaries());
  }

  listPresets(): Promise<{ name: string; description: string }[]> {
    return this.call(() => presetSummaries());
  }

  listDatasets(): Promise<DatasetSummary[]> {
    return this.call(() => datasetSummaries(this.options.dataDir ?? null));
  }

  downloadDataset(name: string): Promise<{ started: boolean }> {
    return this.call(async () => {
      const dataset = parseName(name, 'name');
      if (!isDownloadable(dataset)) {
        throw new ServiceError('invalid_input', `data set "${dataset}" cannot be downloaded (only cifar10 and cifar100 can)`);
      }
      const { dataDir, onDownload = () => {} } = this.options;
      if (dataDir === undefined) throw new ServiceError('unavailable', 'cannot download: this service has no data folder');
      if (this.downloads.has(dataset)) return { started: false };
      this.downloads.add(dataset);
      const { downloadCifar } = await import('../../src-worker/data/download');
      void downloadCifar(dataset, {
        dataDir,
        onProgress: (p) => onDownload({ dataset, phase: p.phase, receivedBytes: p.receivedBytes, totalBytes: p.totalBytes }),
      })
        .then(() => onDownload({ dataset, phase: 'done', receivedBytes: 0 }))
        .catch((err: unknown) => onDownload({ dataset, phase: 'error', receivedBytes: 0, message: err instanceof Error ? err.message : String(err) }))
        .finally(() => this.downloads.delete(dataset));
      return { started: true };
    });
  }

  doctor(opts?: DoctorOptionsInput): Promise<DoctorReport> {
    return this.call(() => {
      const bench = parseDoctorOptions(opts).bench === true;
      const running = this.doctorRuns.get(bench);
      if (running) return running;
      const run = import('../doctor')
        .then(({ runDoctor }) => runDoctor({ ...this.options.doctor, bench }))
        .finally(() => this.doctorRuns.delete(bench));
      this.doctorRuns.set(bench, run);
      return run;
    });
  }

  /** To a file (streamed, any size) when `outPath` is given; otherwise the CSV text, for small exports. */
  exportCsv(what: string, filter?: ExportFilterInput, outPath?: string): Promise<ExportResult> {
    return this.call(async () => {
      const kind = parseExportKind(what);
      const parsedFilter = parseExportFilter(filter);
      if (outPath !== undefined) return exportCsvToFile(this.store, kind, parsedFilter, parseName(outPath, 'outPath'));
      return exportCsvToString(this.store, kind, parsedFilter);
    });
  }

  // ---------------------------------------------------------------- internals

  /** Runs a method body and classifies what it throws (errors.ts); always asynchronous. */
  private async call<T>(body: () => T | Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw toServiceError(error);
    }
  }

  private requireSweep(id: number): SweepSummary {
    const sweep = this.store.listSweeps().find((s) => s.id === id);
    if (!sweep) throw new ServiceError('not_found', `sweep ${id} does not exist`);
    return sweep;
  }

  private requireRun(id: number): RunRecord {
    const run = this.store.getRun(id);
    if (!run) throw new ServiceError('not_found', `run ${id} does not exist`);
    return run;
  }

  private requireController(action: string): RunController {
    if (!this.controller) throw new ServiceError('unavailable', `cannot ${action}: no scheduler is attached`);
    return this.controller;
  }

  private templateExpansion(name: string, options: SweepTemplateOptionsInput | undefined): TemplateExpansion {
    const withDataDir = { ...options, dataDir: options?.dataDir ?? this.options.dataDir };
    try {
      return expandSweepTemplate(parseName(name, 'template name'), withDataDir);
    } catch (error) {
      if (error instanceof SweepTemplateError) throw new ServiceError('invalid_input', error.message);
      throw error;
    }
  }

  private advanceLrSearchNow(sweepId: number): AdvanceLrSearchResult {
    const sweep = this.store.getSweep(sweepId);
    if (!sweep) throw new ServiceError('not_found', `sweep ${sweepId} does not exist`);
    const spec = parseSweepSpec(sweep.spec);
    if (!spec.lrSearch) return { added: 0, families: [] };
    const seeds = sweepSeeds(spec);
    const families = new Map<string, { template: RunSpec; trials: LrTrial[] }>();
    for (const run of this.store.listRuns({ sweepId })) {
      const key = searchFamilyKey(run.spec);
      let family = families.get(key);
      if (!family) families.set(key, (family = { template: run.spec, trials: [] }));
      family.trials.push({
        lr: run.lr, seed: run.seed, status: run.status, finalTestAcc: run.finalTestAcc, bestTestAcc: run.bestTestAcc,
      });
    }
    const result: AdvanceLrSearchResult = { added: 0, families: [] };
    for (const [familyKey, { template, trials }] of families) {
      const decision = proposeLrTrials(spec.lrSearch, seeds, trials);
      if (decision.proposals.length > 0) {
        const { runId: _runId, ...base } = template;
        const specs = decision.proposals.map((p) => ({ ...base, lr: p.lr, seed: p.seed }));
        result.added += this.store.addRuns(sweepId, specs, { priority: spec.priority }).created;
      }
      result.families.push({ familyKey, model: template.model, dataset: template.dataset, ...decision });
    }
    return result;
  }
}
