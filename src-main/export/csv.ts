import { stringify as stringifySync } from 'csv-stringify/sync';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExperimentStore } from '../store/experiment-store';
import type { GroupAggregate, RunFilter, RunRecord, RunStatus } from '../store/types';

/**
 * CSV export (RFC 4180, through csv-stringify) of runs, per-group aggregates and metric history. Rows are
 * streamed from the store's iterators to the output, so a 9M-row metric history never sits in memory.
 */
export const EXPORT_KINDS = ['runs', 'aggregates', 'metrics'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportFilter {
  sweepId?: number;
  model?: string;
  dataset?: string;
  groupKey?: string | string[];
  /** Runs and metrics only: aggregates always use finished runs. */
  status?: RunStatus | RunStatus[];
}

export const EXPORT_COLUMNS: Record<ExportKind, readonly string[]> = {
  runs: [
    'run_id', 'sweep_id', 'sweep_name', 'group_key', 'model', 'dataset', 'seed', 'lr', 'batch_size', 'epochs',
    'status', 'final_test_acc', 'best_test_acc', 'final_test_loss', 'epochs_completed', 'device', 'job_id', 'attempts',
    'error_reason', 'created_at', 'started_at', 'finished_at',
  ],
  aggregates: [
    'group_key', 'model', 'dataset', 'lr', 'batch_size', 'epochs', 'n', 'seeds',
    'final_test_acc_mean', 'final_test_acc_sd', 'best_test_acc_mean', 'best_test_acc_sd',
    'final_test_loss_mean', 'final_test_loss_sd', 'runs_total', 'runs_diverged', 'runs_failed', 'config',
  ],
  metrics: ['run_id', 'sweep_id', 'group_key', 'model', 'seed', 'epoch', 'key', 'value', 'time'],
};

type Cell = string | number | null;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function* runRows(store: ExperimentStore, filter: RunFilter): Generator<Cell[]> {
  const sweepNames = new Map(store.listSweeps().map((s) => [s.id, s.name]));
  for (const r of store.iterateRuns(filter) as Iterable<RunRecord>) {
    yield [
      r.id, r.sweepId, sweepNames.get(r.sweepId) ?? null, r.groupKey, r.model, r.dataset, r.seed, r.lr, r.batchSize,
      r.epochs, r.status, r.finalTestAcc, r.bestTestAcc, r.finalTestLoss, r.epochsCompleted, r.device, r.jobId, r.attempts,
      r.errorReason, iso(r.createdAt), iso(r.startedAt), iso(r.finishedAt),
    ];
  }
}

function aggregateRow(g: GroupAggregate): Cell[] {
  const total = Object.values(g.runCounts).reduce((a, b) => a + (b ?? 0), 0);
  return [
    g.groupKey, g.model, g.dataset, g.lr, g.batchSize, g.epochs, g.n, g.seeds.join(';'),
    g.finalTestAcc.mean, g.finalTestAcc.sd, g.bestTestAcc.mean, g.bestTestAcc.sd,
    g.finalTestLoss.mean, g.finalTestLoss.sd, total, g.runCounts.diverged ?? 0, g.runCounts.failed ?? 0,
    JSON.stringify(g.config),
  ];
}

function* metricRows(store: ExperimentStore, filter: RunFilter): Generator<Cell[]> {
  for (const tuple of store.iterateMetricTuples(filter)) {
    // the tuple is the column order already; only the time needs formatting
    (tuple as Cell[])[8] = iso(tuple[8]);
    yield tuple;
  }
}

function rowsOf(store: ExperimentStore, kind: ExportKind, filter: ExportFilter): Iterable<Cell[]> {
  switch (kind) {
    case 'runs':
      return runRows(store, filter);
    case 'aggregates': {
      const { status: _ignored, ...aggregateFilter } = filter;
      return store.aggregates(aggregateFilter).map(aggregateRow);
    }
    case 'metrics':
      return metricRows(store, filter);
  }
}

export function parseExportKind(value: string): ExportKind {
  if ((EXPORT_KINDS as readonly string[]).includes(value)) return value as ExportKind;
  throw new Error(`unknown export "${value}"; choose one of ${EXPORT_KINDS.join(', ')}`);
}

const ROWS_PER_CHUNK = 2000;

/**
 * Formats rows in chunks: csv-stringify's stream handles one row per stream write, and at millions of rows the
 * stream bookkeeping costs more than the formatting. A chunk of rows through its sync API is the same RFC 4180
 * output with a fraction of the overhead, and memory stays bounded by one chunk.
 */
function* csvChunks(kind: ExportKind, source: Iterable<Cell[]>, counter: { rows: number }): Generator<string> {
  const options = {
    columns: [...EXPORT_COLUMNS[kind]],
    cast: { number: (n: number) => (Number.isNaN(n) ? 'NaN' : String(n)) },
  };
  let batch: Cell[][] = [];
  let header = true;
  const flush = () => {
    const text = stringifySync(batch, { ...options, header });
    header = false;
    counter.rows += batch.length;
    batch = [];
    return text;
  };
  for (const row of source) {
    batch.push(row);
    if (batch.length === ROWS_PER_CHUNK) yield flush();
  }
  // an empty export still gets its header line
  if (batch.length > 0 || header) yield flush();
}

/** Streams the CSV into `out` (header first); resolves to the number of data rows written. */
export async function writeCsv(store: ExperimentStore, kind: ExportKind, filter: ExportFilter, out: Writable): Promise<number> {
  const counter = { rows: 0 };
  await pipeline(Readable.from(csvChunks(kind, rowsOf(store, kind, filter), counter), { objectMode: false }), out);
  return counter.rows;
}

/**
 * Writes the CSV to `path` through a temporary file renamed at the end, so a failed export never leaves a
 * truncated file where a good one was.
 */
export async function exportCsvToFile(
  store: ExperimentStore,
  kind: ExportKind,
  filter: ExportFilter,
  path: string,
): Promise<{ path: string; rows: number }> {
  const partial = `${path}.partial-${process.pid}`;
  try {
    const rows = await writeCsv(store, kind, filter, createWriteStream(partial));
    await rename(partial, path);
    return { path, rows };
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/** The whole CSV as one string: for the UI's "copy" and small exports over IPC or HTTP. */
export async function exportCsvToString(
  store: ExperimentStore,
  kind: ExportKind,
  filter: ExportFilter,
): Promise<{ csv: string; rows: number }> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const rows = await writeCsv(store, kind, filter, sink);
  return { csv: chunks.join(''), rows };
}
