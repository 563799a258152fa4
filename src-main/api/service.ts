import type { RunSpec } from '../../src-worker/run-spec';
import { exportCsvToFile, exportCsvToString } from '../export/csv';
import { InvalidTransitionError } from '../store/errors';
import type { ExperimentStore } from '../store/experiment-store';
import { searchFamilyKey } from '../store/group-key';
import { canTransition, transitionSources } from '../store/run-states';
import type {
  CheckpointRecord, GroupAggregate, GroupCurve, LatestMetric, LogRecord, MetricPoint, NormStatsRecord, RunRecord,
  RunStatus, SweepSummary,
} from '../store/types';
import { refuseDpIncompatibleModels } from '../sweeps/dp-models';
import { expandSweep, sweepSeeds } from '../sweeps/expand';
import { proposeLrTrials, type LrSearchDecision, type LrTrial } from '../sweeps/lr-search';
import { parseSweepSpec } from '../sweeps/spec';
import { ServiceError, toServiceError } from './errors';
import {
  parseAggregateFilter, parseExportFilter, parseExportKind, parseGroupKeys, parseId, parseLogQuery, parseName,
  parseOptionalName, parseRunFilter,
} from './inputs';
import type { DeviceInfo, RunController } from './run-controller';

/** Everything here is plain data, so it crosses IPC (structured clone) and HTTP (JSON) unchanged. */

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

/**
 * The one API of NormLab: the CLI calls it directly, Electron exposes it over IPC as window.api, and
 * `normlab serve` over HTTP. Every argument is validated here (callers may be a renderer or a remote client);
 * every failure is a ServiceError with a code.
 */
export interface NormLabApi {
  listSweeps(): Promise<SweepSummary[]>;
  getSweep(id: number): Promise<SweepSummary>;
  submitSweep(spec: unknown): Promise<SubmitSweepResult>;
  advanceLrSearch(sweepId: number): Promise<AdvanceLrSearchResult>;
  listRuns(filter?: unknown): Promise<RunRecord[]>;
  getRun(id: number): Promise<RunDetail>;
  getRunMetrics(id: number, key?: string): Promise<Record<string, MetricPoint[]>>;
  getRunLogs(id: number, options?: { afterId?: number; limit?: number }): Promise<LogRecord[]>;
  getRunCheckpoints(id: number): Promise<CheckpointRecord[]>;
  getNormStats(runId: number, layer?: string): Promise<NormStatsRecord[]>;
  listNormLayers(runId: number): Promise<{ layer: string; kind: NormStatsRecord['kind'] }[]>;
  compare(filter?: unknown): Promise<GroupAggregate[]>;
  curves(groupKeys: string[], metric: string): Promise<GroupCurve[]>;
  cancel(runId: number): Promise<RunRecord>;
  retry(runId: number): Promise<RunRecord>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  devices(): Promise<DeviceInfo[]>;
  exportCsv(what: string, filter?: unknown, outPath?: string): Promise<ExportResult>;
}

export class NormLabService implements NormLabApi {
  constructor(
    private readonly store: ExperimentStore,
    private readonly controller: RunController | null = null,
  ) {}

  listSweeps(): Promise<SweepSummary[]> {
    return this.call(() => this.store.listSweeps());
  }

  getSweep(id: number): Promise<SweepSummary> {
    return this.call(() => this.requireSweep(parseId(id, 'sweep id')));
  }

  /**
   * Validates and expands the spec and queues its runs. Submitting again (same name) adds only what is new:
   * runs already present, finished or not, are counted as existing and left alone.
   */
  submitSweep(input: unknown): Promise<SubmitSweepResult> {
    return this.call(async () => {
      const spec = parseSweepSpec(input);
      const expansion = expandSweep(spec);
      await refuseDpIncompatibleModels(spec, expansion.runs);
      const { sweep, created } = this.store.upsertSweep({ name: spec.name, spec, priority: spec.priority });
      const added = this.store.addRuns(sweep.id, expansion.runs, { priority: spec.priority });
      const existingByStatus: Partial<Record<RunStatus, number>> = {};
      for (const run of added.runs) if (!run.created) existingByStatus[run.status] = (existingByStatus[run.status] ?? 0) + 1;
      const result: SubmitSweepResult = {
        sweepId: sweep.id,
        name: sweep.name,
        sweepCreated: created,
        groups: expansion.groups,
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

  /** Asks the lr searcher for the next runs of every search family in the sweep and queues them. */
  advanceLrSearch(sweepId: number): Promise<AdvanceLrSearchResult> {
    return this.call(() => {
      const result = this.advanceLrSearchNow(parseId(sweepId, 'sweep id'));
      if (result.added > 0) this.controller?.queueChanged?.();
      return result;
    });
  }

  /** For the scheduler: call when a run has ended, so an lr search moves on without anyone polling. */
  afterRunEnded(runId: number): Promise<AdvanceLrSearchResult> {
    return this.call(() => {
      const run = this.requireRun(parseId(runId, 'run id'));
      const result = this.advanceLrSearchNow(run.sweepId);
      if (result.added > 0) this.controller?.queueChanged?.();
      return result;
    });
  }

  listRuns(filter?: unknown): Promise<RunRecord[]> {
    return this.call(() => this.store.listRuns(parseRunFilter(filter)));
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

  getRunLogs(id: number, options?: { afterId?: number; limit?: number }): Promise<LogRecord[]> {
    return this.call(() => this.store.getLogs(parseId(id, 'run id'), parseLogQuery(options)));
  }

  getRunCheckpoints(id: number): Promise<CheckpointRecord[]> {
    return this.call(() => this.store.getCheckpoints(parseId(id, 'run id')));
  }

  getNormStats(runId: number, layer?: string): Promise<NormStatsRecord[]> {
    return this.call(() => this.store.getNormStats(parseId(runId, 'run id'), parseOptionalName(layer, 'layer')));
  }

  listNormLayers(runId: number): Promise<{ layer: string; kind: NormStatsRecord['kind'] }[]> {
    return this.call(() => this.store.listNormLayers(this.requireRun(parseId(runId, 'run id')).id));
  }

  compare(filter?: unknown): Promise<GroupAggregate[]> {
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
   * Puts a failed, diverged, cancelled or interrupted run back in the queue (run-states.ts decides which). A
   * refused retry (a finished run) is a `conflict` error with the store's reason, never a silent no-op.
   */
  retry(runId: number): Promise<RunRecord> {
    return this.call(async () => {
      const run = this.requireRun(parseId(runId, 'run id'));
      if (!canTransition(run.status, 'queued')) {
        throw new InvalidTransitionError(run.id, run.status, 'queued', transitionSources('queued'));
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

  devices(): Promise<DeviceInfo[]> {
    return this.call(() => (this.controller ? this.controller.devices() : []));
  }

  /** To a file (streamed, any size) when `outPath` is given; otherwise the CSV text, for small exports. */
  exportCsv(what: string, filter?: unknown, outPath?: string): Promise<ExportResult> {
    return this.call(async () => {
      const kind = parseExportKind(what);
      const parsedFilter = parseExportFilter(filter);
      if (outPath !== undefined) return exportCsvToFile(this.store, kind, parsedFilter, parseName(outPath, 'outPath'));
      return exportCsvToString(this.store, kind, parsedFilter);
    });
  }

  // ---------------------------------------------------------------- internals

  /** Runs a method body and turns store and spec errors into ServiceErrors; always asynchronous. */
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
