import { parseRunSpec } from '../../src-worker/run-spec';
import { IngestError, RunNotFoundError, StoreError } from './errors';
import { canonicalJson, configGroupKey, groupConfig, runKey } from './group-key';
import { runWhere, toRunRecord, type RunRow } from './run-rows';
import type { StoreContext } from './store-context';
import type { Sweeps } from './sweeps';
import type { AddRunsResult, RunFilter, RunRecord, RunSpec, RunStatus } from './types';

/** `LIMIT … OFFSET …` for a filter's page, or nothing when it asks for all rows. */
export function pageClause(filter: RunFilter): string {
  if (filter.limit === undefined && filter.offset === undefined) return '';
  const limit = Math.max(0, Math.floor(filter.limit ?? -1));
  const offset = Math.max(0, Math.floor(filter.offset ?? 0));
  return `LIMIT ${filter.limit === undefined ? -1 : limit} OFFSET ${offset}`;
}

function paramText(value: unknown): string {
  return typeof value === 'string' ? value : canonicalJson(value);
}

/** The `runs` rows as records: adding a sweep's runs (with their params and config group), and reading them. */
export class Runs {
  private readonly knownIds = new Set<number>();

  constructor(
    private readonly ctx: StoreContext,
    private readonly sweeps: Sweeps,
  ) {}

  /**
   * Adds runs to a sweep, each at most once per (sweep, config group, seed): a spec already present is reported
   * with its current status and left untouched, whatever that status is.
   */
  add(sweepId: number, specs: readonly RunSpec[], options: { priority?: number } = {}): AddRunsResult {
    const sweep = this.sweeps.get(sweepId);
    if (!sweep) throw new StoreError(`sweep ${sweepId} does not exist`);
    const priority = options.priority ?? sweep.priority;
    const insert = this.ctx.stmt(`
      INSERT INTO runs (sweep_id, group_key, run_key, model, dataset, seed, lr, batch_size, epochs, status,
                        priority, spec_json, created_at)
      VALUES (@sweepId, @groupKey, @runKey, @model, @dataset, @seed, @lr, @batchSize, @epochs, 'queued',
              @priority, @specJson, @now)
      ON CONFLICT (sweep_id, run_key) DO NOTHING
      RETURNING id`);
    const find = this.ctx.stmt(`SELECT id, status FROM runs WHERE sweep_id = ? AND run_key = ?`);
    const insertParam = this.ctx.stmt(`INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)`);
    const insertGroup = this.ctx.stmt(`
      INSERT INTO config_groups (group_key, model, dataset, lr, batch_size, epochs, config_json)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_key) DO NOTHING`);
    const now = this.ctx.now();
    return this.ctx.db.transaction((): AddRunsResult => {
      const result: AddRunsResult = { runs: [], created: 0, existing: 0 };
      for (const given of specs) {
        const { runId: _ignored, ...spec } = parseRunSpec(given);
        const key = runKey(spec);
        const groupKey = configGroupKey(spec);
        const inserted = insert.get({
          sweepId,
          groupKey,
          runKey: key,
          model: spec.model,
          dataset: spec.dataset,
          seed: spec.seed,
          lr: spec.lr,
          batchSize: spec.batchSize,
          epochs: spec.epochs,
          priority,
          specJson: JSON.stringify(spec),
          now,
        }) as { id: number } | undefined;
        if (inserted) {
          insertGroup.run(groupKey, spec.model, spec.dataset, spec.lr, spec.batchSize, spec.epochs, canonicalJson(groupConfig(spec)));
          for (const [name, value] of Object.entries(spec)) {
            if (value !== undefined) insertParam.run(inserted.id, name, paramText(value));
          }
          this.knownIds.add(inserted.id);
          result.runs.push({ id: inserted.id, created: true, status: 'queued' });
          result.created++;
        } else {
          const row = find.get(sweepId, key) as { id: number; status: RunStatus };
          result.runs.push({ id: row.id, created: false, status: row.status });
          result.existing++;
        }
      }
      return result;
    })();
  }

  get(id: number): RunRecord | undefined {
    const row = this.ctx.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row && toRunRecord(row);
  }

  /** The run, or RunNotFoundError naming it. */
  require(id: number): RunRecord {
    const run = this.get(id);
    if (!run) throw new RunNotFoundError(id);
    return run;
  }

  /** Throws IngestError unless the run exists; cheap after the first call per run. */
  requireForIngest(runId: number): void {
    if (this.knownIds.has(runId)) return;
    // runs are never deleted, so a run seen once stays valid; the cache saves a lookup per event
    if (!this.ctx.stmt(`SELECT 1 FROM runs WHERE id = ?`).get(runId)) {
      throw new IngestError(`run ${runId} does not exist; its events cannot be recorded`);
    }
    this.knownIds.add(runId);
  }

  list(filter: RunFilter = {}): RunRecord[] {
    const where = runWhere(filter);
    const rows = this.ctx.db.prepare(`SELECT * FROM runs ${where.sql} ORDER BY id ${pageClause(filter)}`).all(where.params) as RunRow[];
    return rows.map(toRunRecord);
  }

  count(filter: RunFilter = {}): number {
    const where = runWhere(filter);
    return (this.ctx.db.prepare(`SELECT COUNT(*) AS n FROM runs ${where.sql}`).get(where.params) as { n: number }).n;
  }

  /** Params as recorded at insert: the resolved spec's fields as text. */
  params(runId: number): Record<string, string> {
    this.require(runId);
    const rows = this.ctx.stmt(`SELECT key, value FROM params WHERE run_id = ? ORDER BY key`).all(runId) as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** The worker's reason for a failure it is about to report (its `error` event); the status is not changed here. */
  recordErrorReason(runId: number, reason: string): void {
    this.ctx.stmt(`UPDATE runs SET error_reason = ? WHERE id = ?`).run(reason, runId);
  }
}
