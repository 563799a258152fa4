import type { RunRecord, RunFilter, AggregateFilter, RunSpec, RunStatus } from './types';

/** A `runs` row as SQLite returns it. */
export interface RunRow {
  id: number;
  sweep_id: number;
  group_key: string;
  model: string;
  dataset: string;
  seed: number;
  lr: number;
  batch_size: number;
  epochs: number;
  status: RunStatus;
  priority: number;
  device: string | null;
  attempts: number;
  error_reason: string | null;
  stderr_tail: string | null;
  spec_json: string;
  final_test_acc: number | null;
  best_test_acc: number | null;
  final_test_loss: number | null;
  epochs_completed: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  owner: string | null;
  checkpoint_dir: string | null;
  journal_id: string | null;
  journal_seq: number;
  auto_retries: number;
  job_id: string | null;
}

export function toRunRecord(row: RunRow): RunRecord {
  // the stored spec has no runId (it is not known before the insert); every reader gets it filled in
  const spec = { ...(JSON.parse(row.spec_json) as RunSpec), runId: row.id };
  return {
    id: row.id,
    sweepId: row.sweep_id,
    groupKey: row.group_key,
    model: row.model,
    dataset: row.dataset,
    seed: row.seed,
    lr: row.lr,
    batchSize: row.batch_size,
    epochs: row.epochs,
    status: row.status,
    priority: row.priority,
    device: row.device,
    attempts: row.attempts,
    errorReason: row.error_reason,
    stderrTail: row.stderr_tail,
    spec,
    finalTestAcc: row.final_test_acc,
    bestTestAcc: row.best_test_acc,
    finalTestLoss: row.final_test_loss,
    epochsCompleted: row.epochs_completed,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    owner: row.owner,
    checkpointDir: row.checkpoint_dir,
    journalAck: { journal: row.journal_id, seq: row.journal_seq },
    autoRetries: row.auto_retries,
    jobId: row.job_id,
  };
}

export interface WhereClause {
  sql: string;
  params: Record<string, unknown>;
}

function listParam(
  column: string,
  name: string,
  values: readonly (string | number)[],
  params: Record<string, unknown>,
): string {
  if (values.length === 0) return '0';
  const names = values.map((value, i) => {
    params[`${name}${i}`] = value;
    return `@${name}${i}`;
  });
  return `${column} IN (${names.join(', ')})`;
}

/** Builds a WHERE clause over `runs` (aliased `alias`) from a filter; only named parameters, never spliced values. */
export function runWhere(filter: RunFilter | AggregateFilter, alias = 'runs'): WhereClause {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  const col = (name: string) => `${alias}.${name}`;
  if (filter.sweepId !== undefined) {
    parts.push(`${col('sweep_id')} = @sweepId`);
    params.sweepId = filter.sweepId;
  }
  if (filter.model !== undefined) {
    parts.push(`${col('model')} = @model`);
    params.model = filter.model;
  }
  if (filter.dataset !== undefined) {
    parts.push(`${col('dataset')} = @dataset`);
    params.dataset = filter.dataset;
  }
  if (filter.groupKey !== undefined) {
    const keys = Array.isArray(filter.groupKey) ? filter.groupKey : [filter.groupKey];
    parts.push(listParam(col('group_key'), 'groupKey', keys, params));
  }
  if ('status' in filter && filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    parts.push(listParam(col('status'), 'status', statuses, params));
  }
  if ('ids' in filter && filter.ids !== undefined) {
    parts.push(listParam(col('id'), 'id', filter.ids, params));
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
