import type { RunRecord } from '../../src-main/store/types';
import { runFields, type RunFieldInfo } from '../../src-worker/run-fields';
import { formatDuration, formatSetting } from './format';

/**
 * The runs table's columns: a few that every row needs (run, status, progress, actions: always shown), the common
 * axes of a study (sweep, model, width, batch, …), and one per remaining run-spec field from the run-field registry,
 * so any config value can be made a column. Which are shown is the user's choice, kept in localStorage.
 */

export interface RunColumn {
  id: string;
  label: string;
  /** Right-aligned (numbers). */
  numeric?: boolean;
  /** Monospace (model names, devices). */
  mono?: boolean;
  /** Shown until the user changes the choice. */
  byDefault: boolean;
  /** After the status and progress cells (when and where it ran), not among the config before them. */
  trailing?: true;
  /** What the cell shows; `ctx` has what the row knows beyond the record. */
  text(run: RunRecord, ctx: CellContext): string;
}

export interface CellContext {
  /** Sweep id → name. */
  sweepNames: ReadonlyMap<number, string>;
  /** Milliseconds now, for the elapsed time of a running run. */
  now: number;
  /** The device the live events name, before the record has it. */
  liveDevice?: string;
}

/** Seconds from start to end, or to now while it runs; null before it started. */
export function runDurationSec(run: RunRecord, now: number): number | null {
  if (run.startedAt === null) return null;
  const end = run.finishedAt ?? (run.status === 'running' ? now : null);
  return end === null ? null : Math.max(0, (end - run.startedAt) / 1000);
}

function specValue(run: RunRecord, field: RunFieldInfo): unknown {
  const value = (run.spec as Readonly<Record<string, unknown>>)[field.key];
  return value === undefined ? field.defaultValue : value;
}

/** A config value as a cell: numbers compact, schedules by kind, lists joined, unset optional fields as "—". */
export function formatConfigValue(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'number') return String(Number(value.toPrecision(6)));
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (Array.isArray(value)) return value.map((v) => formatConfigValue(v)).join(', ');
  if (typeof value === 'object') {
    const kind = (value as { kind?: unknown }).kind;
    return typeof kind === 'string' ? kind : JSON.stringify(value);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const FIXED: RunColumn[] = [
  { id: 'sweep', label: 'Sweep', byDefault: true, text: (r, c) => c.sweepNames.get(r.sweepId) ?? `#${r.sweepId}` },
  { id: 'model', label: 'Model', mono: true, byDefault: true, text: (r) => r.model },
  { id: 'dataset', label: 'Data', byDefault: true, text: (r) => r.dataset },
  { id: 'width', label: 'Width', numeric: true, byDefault: true, text: (r) => formatSetting(r.spec.width ?? 1) },
  { id: 'batchSize', label: 'Batch', numeric: true, byDefault: true, text: (r) => String(r.batchSize) },
  { id: 'lr', label: 'LR', numeric: true, byDefault: true, text: (r) => formatSetting(r.lr) },
  { id: 'epochs', label: 'Epochs', numeric: true, byDefault: true, text: (r) => String(r.epochs) },
  { id: 'seed', label: 'Seed', numeric: true, byDefault: true, text: (r) => String(r.seed) },
  { id: 'duration', label: 'Duration', numeric: true, byDefault: true, trailing: true, text: (r, c) => formatDuration(runDurationSec(r, c.now)) },
  { id: 'device', label: 'Device', mono: true, byDefault: true, trailing: true, text: (r, c) => c.liveDevice ?? r.device ?? '—' },
];

/** Fields the fixed columns already show, or that say nothing in a table (the run id, the checkpoint folder). */
const NOT_CONFIG_COLUMNS = new Set(['runId', 'model', 'dataset', 'width', 'batchSize', 'lr', 'epochs', 'seed', 'checkpointDir', 'resume']);

const CONFIG: RunColumn[] = runFields()
  .filter((f) => !NOT_CONFIG_COLUMNS.has(f.key))
  .map((f) => ({
    id: `config.${f.key}`,
    label: f.meta.label,
    numeric: f.kind === 'number' || f.kind === 'integer',
    byDefault: false,
    text: (r: RunRecord) => formatConfigValue(specValue(r, f)),
  }));

/** Every column the picker offers, in table order (the always-shown ones are the view's own). */
export const RUN_COLUMNS: readonly RunColumn[] = [...FIXED, ...CONFIG];

export const DEFAULT_COLUMN_IDS: readonly string[] = RUN_COLUMNS.filter((c) => c.byDefault).map((c) => c.id);

export const COLUMNS_STORAGE_KEY = 'normlab.runs.columns';

/** The saved choice, ids the table no longer has dropped; the defaults when nothing (or nothing usable) is saved. */
export function loadColumnChoice(storage: Pick<Storage, 'getItem'> | undefined): string[] {
  const known = new Set(RUN_COLUMNS.map((c) => c.id));
  try {
    const raw = storage?.getItem(COLUMNS_STORAGE_KEY);
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    if (Array.isArray(parsed)) return parsed.filter((id): id is string => typeof id === 'string' && known.has(id));
  } catch {
    // a hand-edited or foreign value: start from the defaults rather than fail the page
  }
  return [...DEFAULT_COLUMN_IDS];
}

export function saveColumnChoice(storage: Pick<Storage, 'setItem'> | undefined, ids: readonly string[]): void {
  try {
    storage?.setItem(COLUMNS_STORAGE_KEY, JSON.stringify(ids));
  } catch {
    // storage full or disabled (private mode): the choice lasts for this page only
  }
}

/** The chosen columns in table order, whatever order they were ticked in. */
export function visibleColumns(ids: readonly string[]): RunColumn[] {
  const chosen = new Set(ids);
  return RUN_COLUMNS.filter((c) => chosen.has(c.id));
}
