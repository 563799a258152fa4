import { dpFields, runFields, scheduleFields, type RunFieldInfo } from '../../src-worker/run-fields';

/**
 * One CSV column per run-spec field, read from the run-field registry (src-worker/run-fields.ts), so a field
 * added to the schema is a column of the export without touching this file. `dp` and `schedule` are objects in
 * the spec and flattened here: `dp_max_grad_norm`, `schedule` (the kind) and `schedule_decay`, ….
 */

export type Cell = string | number | null;

export interface ConfigColumn {
  name: string;
  read(config: Readonly<Record<string, unknown>>): Cell;
}

/** `batchSize` → `batch_size`, `dp.maxGradNorm` → `dp_max_grad_norm`, `adamBeta1` → `adam_beta1`. */
export function columnName(path: string): string {
  return path.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Lists as `a;b` (the aggregates' seeds column does the same), booleans as true/false. */
function cell(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return value.map((v) => String(v)).join(';');
  return JSON.stringify(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A stored spec may predate a field; absent means the schema default, as the config-group key reads it
 * (withoutDefaults), so the column shows the default rather than a blank that reads as "unknown".
 */
function valueOf(field: RunFieldInfo, holder: Readonly<Record<string, unknown>>): Cell {
  const value = holder[field.key];
  return cell(value === undefined ? field.defaultValue : value);
}

function topColumn(field: RunFieldInfo): ConfigColumn {
  return { name: columnName(field.path), read: (config) => valueOf(field, config) };
}

function dpColumns(): ConfigColumn[] {
  // a run without DP-SGD has no DP options: its dp_ columns stay empty rather than show defaults it never used
  return dpFields().map((f) => ({
    name: columnName(f.path),
    read: (config) => (isObject(config.dp) ? valueOf(f, config.dp) : null),
  }));
}

function scheduleColumns(field: RunFieldInfo): ConfigColumn[] {
  const kindOf = (config: Readonly<Record<string, unknown>>): Record<string, unknown> | null => {
    const schedule = config[field.key] ?? field.defaultValue;
    return isObject(schedule) ? schedule : null;
  };
  const params = new Map<string, RunFieldInfo[]>();
  for (const p of scheduleFields()) params.set(p.key, [...(params.get(p.key) ?? []), p]);
  return [
    { name: columnName(field.path), read: (config) => cell(kindOf(config)?.kind) },
    ...[...params].map(([key, owners]): ConfigColumn => ({
      name: columnName(`${field.path}.${key}`),
      read: (config) => {
        const schedule = kindOf(config);
        // a parameter of another schedule kind means nothing for this run
        const owner = owners.find((p) => p.scheduleKind === schedule?.kind);
        return schedule && owner ? valueOf(owner, schedule) : null;
      },
    })),
  ];
}

/** The axes a study varies first; they lead, so a spreadsheet opens on what tells runs apart. */
const LEADING = ['model', 'dataset', 'lr', 'batchSize', 'epochs', 'width', 'seed'];

/**
 * The columns of every run field: the leading axes, then the rest in the schema's order; `which` picks them by
 * role (the aggregates hold group configs, which have no execution fields and no seed). `runId` is the run_id
 * column already.
 */
export function configColumns(which: 'all' | 'experiment' = 'all'): ConfigColumn[] {
  const rank = (key: string) => (LEADING.includes(key) ? LEADING.indexOf(key) : LEADING.length);
  return runFields()
    .filter((f) => f.key !== 'runId' && (which === 'all' || (f.meta.role === 'experiment' && f.key !== 'seed')))
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.key) - rank(b.f.key) || a.i - b.i)
    .flatMap(({ f }) => (f.key === 'dp' ? dpColumns() : f.kind === 'schedule' ? scheduleColumns(f) : [topColumn(f)]));
}
