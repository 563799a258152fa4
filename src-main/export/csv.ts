import { stringify as stringifySync } from 'csv-stringify/sync';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExperimentStore } from '../store/experiment-store';
import type { GroupAggregate, RunFilter, RunRecord, RunStatus } from '../store/types';
import { configColumns, type Cell } from './config-columns';

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

/** A fraction (0..1) as percent, as the UI shows accuracies; without the float noise of `0.61 * 100`. */
function pct(fraction: number | null): number | null {
  if (fraction === null || !Number.isFinite(fraction)) return null;
  return Number((fraction * 100).toPrecision(12));
}

const RUN_CONFIG = configColumns('all');
const GROUP_CONFIG = configColumns('experiment');

/**
 * Accuracies are in percent, like the UI, and a column that has a unit says it (`_pct`, `_s`). The config columns
 * are every run-spec field (config-columns.ts); see docs/csv-export.md for the list.
 */
export const EXPORT_COLUMNS: Record<ExportKind, readonly string[]> = {
  runs: [
    'run_id', 'sweep_id', 'sweep_name', 'group_key', 'status', ...RUN_CONFIG.map((c) => c.name),
    'num_params', 'backend_used', 'adapter', 'final_test_acc_pct', 'best_test_acc_pct', 'final_test_top5_pct', 'final_test_loss',
    'epochs_completed', 'duration_s', 'device', 'job_id', 'attempts', 'error_reason', 'created_at', 'started_at', 'finished_at',
  ],
  aggregates: [
    'group_key', ...GROUP_CONFIG.map((c) => c.name), 'n', 'seeds',
    'final_test_acc_mean_pct', 'final_test_acc_sd_pct', 'best_test_acc_mean_pct', 'best_test_acc_sd_pct',
    'final_test_loss_mean', 'final_test_loss_sd', 'runs_total', 'runs_diverged', 'runs_failed', 'config',
  ],
  metrics: ['run_id', 'sweep_id', 'group_key', 'model', 'seed', 'epoch', 'key', 'value', 'time'],
};

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function durationSec(r: RunRecord): number | null {
  return r.startedAt !== null && r.finishedAt !== null ? (r.finishedAt - r.startedAt) / 1000 : null;
}

function* runRows(store: ExperimentStore, filter: RunFilter): Generator<Cell[]> {
  const sweepNames = new Map(store.listSweeps().map((s) => [s.id, s.name]));
  for (const { run: r, numParams, backend, adapter, testAcc5 } of store.iterateRunExports(filter)) {
    const spec = r.spec as Readonly<Record<string, unknown>>;
    yield [
      r.id, r.sweepId, sweepNames.get(r.sweepId) ?? null, r.groupKey, r.status, ...RUN_CONFIG.map((c) => c.read(spec)),
      numParams, backend, adapter, pct(r.finalTestAcc), pct(r.bestTestAcc), pct(testAcc5), r.finalTestLoss,
      r.epochsCompleted, durationSec(r), r.device, r.jobId, r.attempts, r.errorReason, iso(r.createdAt), iso(r.startedAt), iso(r.finishedAt),
    ];
  }
}

function aggregateRow(g: GroupAggregate): Cell[] {
  const total = Object.values(g.runCounts).reduce((a, b) => a + (b ?? 0), 0);
  return [
    g.groupKey, ...GROUP_CONFIG.map((c) => c.read(g.config)), g.n, g.seeds.join(';'),
    pct(g.finalTestAcc.mean), pct(g.finalTestAcc.sd), pct(g.bestTestAcc.mean), pct(g.bestTestAcc.sd),
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
