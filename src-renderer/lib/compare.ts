import type { GroupAggregate } from '../../src-main/store/types';
import type { ModelSummary } from '../../src-main/api/types';
import { compareFields, compareText, describeConstants, showValue, SWEEP_FIELD, type FieldGroup, type VaryingField } from './compare-fields';
import { formatMeanSd, type MeanSd } from './format';
import { significanceNotes, type PaperTable } from './paper-table';

export type Task = 'classification' | 'segmentation';

/** One config group as the compare table shows it: the aggregate plus where its model sits in the registry. */
export interface CompareRow {
  groupKey: string;
  model: string;
  family: string;
  norm: string;
  depth: number | null;
  task: Task;
  dataset: string;
  batchSize: number;
  lr: number;
  epochs: number;
  width: number;
  /** The group's experiment configuration, for the varying-field columns. */
  config: Readonly<Record<string, unknown>>;
  /** Names of the sweeps the group's runs come from; empty when the view shows one sweep. */
  sweeps: string[];
  n: number;
  /** The headline result: final test top-1 for classifiers, final test mIoU for segmentation. */
  final: MeanSd;
  /** Best-epoch test top-1; null for segmentation, whose best-epoch mIoU is not kept per run. */
  best: MeanSd | null;
  /** Final pixel accuracy of a segmentation group; null for classifiers. */
  pixelAcc: MeanSd | null;
  /** Runs of the group that did not finish (diverged, failed, …), so a reader sees what was left out. */
  excluded: number;
}

export interface CompareExtras {
  /** Final-epoch test_miou over the finished runs of each segmentation group. */
  finalMiou?: ReadonlyMap<string, MeanSd>;
  /** Sweep names per group key, when the view spans several sweeps. */
  sweepsOf?: ReadonlyMap<string, string[]>;
}

export const NORM_ORDER = ['kn', 'bn', 'gn', 'ln', 'nn'];
const NORM_NAMES: Record<string, string> = { kn: 'KN', bn: 'BN', gn: 'GN', ln: 'LN', nn: 'no norm' };
const NO_VALUE: MeanSd = { mean: null, sd: null, n: 0 };

export function toCompareRows(
  aggregates: readonly GroupAggregate[],
  models: ReadonlyMap<string, ModelSummary>,
  extras: CompareExtras = {},
): CompareRow[] {
  return aggregates.map((g) => {
    const info = models.get(g.model);
    const total = Object.values(g.runCounts).reduce((a, b) => a + (b ?? 0), 0);
    const width = typeof g.config.width === 'number' ? g.config.width : 1;
    const miou = extras.finalMiou?.get(g.groupKey);
    // the registry says which models segment; a group that recorded mIoU is one even if the registry is not loaded
    const task: Task = info?.task === 'segmentation' || (miou !== undefined && miou.n > 0) ? 'segmentation' : 'classification';
    return {
      groupKey: g.groupKey,
      model: g.model,
      family: info?.family ?? g.model,
      norm: info?.norm ?? '?',
      depth: info?.depth ?? null,
      task,
      dataset: g.dataset,
      batchSize: g.batchSize,
      lr: g.lr,
      epochs: g.epochs,
      width,
      config: g.config,
      sweeps: extras.sweepsOf?.get(g.groupKey) ?? [],
      n: g.n,
      final: task === 'segmentation' ? (miou ?? NO_VALUE) : g.finalTestAcc,
      best: task === 'segmentation' ? null : g.bestTestAcc,
      // a segmentation run's test_acc is its pixel accuracy (seg-loop.ts)
      pixelAcc: task === 'segmentation' ? g.finalTestAcc : null,
      excluded: total - g.n,
    };
  });
}

/** The result columns a task's table shows, named for what they hold. */
export function metricColumns(task: Task): { key: 'final' | 'best' | 'pixelAcc'; label: string }[] {
  if (task === 'segmentation') {
    return [
      { key: 'final', label: 'Final test mIoU (%)' },
      { key: 'pixelAcc', label: 'Final pixel accuracy (%)' },
    ];
  }
  return [
    { key: 'final', label: 'Final test top-1 (%)' },
    { key: 'best', label: 'Best test top-1 (%)' },
  ];
}

/** The one task of `rows`; mixing segmentation and classification groups is refused, naming both sides. */
export function commonTask(rows: readonly CompareRow[]): Task {
  const seg = [...new Set(rows.filter((r) => r.task === 'segmentation').map((r) => r.model))];
  const cls = [...new Set(rows.filter((r) => r.task === 'classification').map((r) => r.model))];
  if (seg.length > 0 && cls.length > 0) {
    throw new Error(
      `these groups mix segmentation models (${seg.join(', ')}) with classifiers (${cls.join(', ')}): mIoU and top-1 accuracy ` +
        'are different measures and cannot share a table; choose one data set or one sweep',
    );
  }
  return seg.length > 0 ? 'segmentation' : 'classification';
}

export function fieldGroups(rows: readonly CompareRow[], models: ReadonlyMap<string, ModelSummary>): FieldGroup[] {
  const spansSweeps = rows.some((r) => r.sweeps.length > 0);
  return rows.map((r) => {
    const info = models.get(r.model);
    return {
      groupKey: r.groupKey,
      config: r.config,
      model: info && { norm: info.norm, family: info.family },
      ...(spansSweeps ? { sweeps: r.sweeps } : {}),
    };
  });
}

/**
 * Sorting: the fixed columns by name, results by mean, and any varying field by its path (`batchSize`,
 * `schedule.kind`, `sweep`).
 */
export type SortKey = 'model' | 'family' | 'norm' | 'n' | 'final' | 'best' | 'pixelAcc' | (string & {});
export interface SortState {
  key: SortKey;
  dir: 'asc' | 'desc';
}

const RESULT_KEYS = new Set<SortKey>(['final', 'best', 'pixelAcc', 'n']);

function configValue(row: CompareRow, path: string): unknown {
  if (path === SWEEP_FIELD) return row.sweeps.length ? [...row.sweeps].sort().join(', ') : undefined;
  let value: unknown = row.config;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function sortValue(row: CompareRow, key: SortKey): number | string | null {
  switch (key) {
    case 'final':
      return row.final.mean;
    case 'best':
      return row.best?.mean ?? null;
    case 'pixelAcc':
      return row.pixelAcc?.mean ?? null;
    case 'norm':
      return NORM_ORDER.indexOf(row.norm);
    case 'model':
      return row.model;
    case 'family':
      return row.family;
    case 'n':
      return row.n;
    default: {
      const v = configValue(row, key);
      if (v === undefined) return null;
      return typeof v === 'number' ? v : showValue(v);
    }
  }
}

/** Stable sort; rows without a value (no finished run) always go last, whichever the direction. */
export function sortRows(rows: readonly CompareRow[], sort: SortState): CompareRow[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, v: sortValue(row, sort.key) }))
    .sort((a, b) => {
      if (a.v === null && b.v === null) return a.index - b.index;
      if (a.v === null) return 1;
      if (b.v === null) return -1;
      const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : compareText(String(a.v), String(b.v));
      return c !== 0 ? sign * c : a.index - b.index;
    })
    .map((x) => x.row);
}

/** Clicking the sorted column flips it; a new column starts descending for results, ascending otherwise. */
export function nextSort(current: SortState, key: SortKey): SortState {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: RESULT_KEYS.has(key) ? 'desc' : 'asc' };
}

const FAMILY_NAMES: Record<string, string> = {
  knresnet: 'KNResNet', resnet: 'ResNet', preact_resnet: 'PreAct-ResNet', fc_resnet: 'FC-ResNet', fc_knresnet: 'FC-KNResNet',
  convnext: 'ConvNeXt', knconvnext: 'KNConvNeXt',
};

export function modelLabel(row: Pick<CompareRow, 'family' | 'depth' | 'norm'>): string {
  const depth = row.depth !== null ? `-${row.depth}` : '';
  return `${FAMILY_NAMES[row.family] ?? row.family}${depth} (${NORM_NAMES[row.norm] ?? row.norm})`;
}

export interface ComparePaperTable extends PaperTable {
  /** Fields that became table axes because groups in one cell differed in them. */
  axes: string[];
}

function cellKey(model: string, column: string): string {
  return `${model}\n${column}`;
}

/** A varying field's values per table row (model) or per column where each holds one value, else per cell. */
function describeVaryingNote(field: VaryingField, subset: readonly CompareRow[], columnOf: (r: CompareRow) => string): string {
  const rows = new Map<string, Set<string>>();
  const columns = new Map<string, Set<string>>();
  const cells: string[] = [];
  for (const r of subset) {
    const value = field.values.get(r.groupKey);
    if (value === undefined) continue;
    rows.set(modelLabel(r), (rows.get(modelLabel(r)) ?? new Set()).add(value));
    columns.set(columnOf(r), (columns.get(columnOf(r)) ?? new Set()).add(value));
    cells.push(`${modelLabel(r)} ${columnOf(r)} ${value}`);
  }
  const listed = (m: Map<string, Set<string>>, sep: string) => [...m].map(([k, v]) => `${k}${sep}${[...v][0]}`).join('; ');
  if ([...rows.values()].every((v) => v.size === 1)) return `${field.label}: ${listed(rows, ' ')}`;
  if ([...columns.values()].every((v) => v.size === 1)) return `${field.label} by column: ${listed(columns, ': ')}`;
  return `${field.label}: ${cells.join('; ')}`;
}

/**
 * The paper's layout: one row per model, one column per batch size. A cell holds exactly one config group: when
 * groups of one model and batch size differ in another field (epochs, lr, width, the sweep…), that field becomes
 * a column axis ("B=32, Epochs 2"). The notes say what is the same in every cell, how the fields that differ by
 * model differ, and where a bold winner is significant (Welch's t-test at 5 % against the runner-up).
 */
export function paperTable(
  rows: readonly CompareRow[],
  metric: 'final' | 'best',
  dataset: string,
  models: ReadonlyMap<string, ModelSummary> = new Map(),
): ComparePaperTable {
  const subset = rows.filter((r) => r.dataset === dataset && r.n > 0);
  const task = commonTask(subset);
  if (task === 'segmentation' && metric === 'best') {
    throw new Error('a best-epoch mIoU is not kept per run; the paper table of a segmentation sweep shows the final epoch');
  }
  const fields = compareFields(fieldGroups(subset, models));
  const candidates = fields.varying.filter((f) => f.path !== 'batchSize');
  // Fields become axes one at a time, in the schema's order (the sweep last), each only if groups of one cell still
  // differ in it: a sweep that only repeats what the epochs column already says does not split the columns again.
  const axes: VaryingField[] = [];
  const cellOf = (r: CompareRow) => [r.model, String(r.batchSize), ...axes.map((f) => f.values.get(r.groupKey) ?? '')].join('\n');
  for (const f of candidates) {
    const byCell = new Map<string, Set<string>>();
    for (const r of subset) byCell.set(cellOf(r), (byCell.get(cellOf(r)) ?? new Set()).add(f.values.get(r.groupKey) ?? ''));
    if ([...byCell.values()].some((values) => values.size > 1)) axes.push(f);
  }
  const columnOf = (r: CompareRow) =>
    [`B=${r.batchSize}`, ...axes.map((f) => `${f.label} ${f.values.get(r.groupKey) ?? 'n/a'}`)].join(', ');
  const columnOrder = [...subset].sort((a, b) => {
    if (a.batchSize !== b.batchSize) return a.batchSize - b.batchSize;
    for (const f of axes) {
      const c = compareText(f.values.get(a.groupKey) ?? '', f.values.get(b.groupKey) ?? '');
      if (c !== 0) return c;
    }
    return 0;
  });
  const columns = [...new Set(columnOrder.map(columnOf))];
  const modelNames = [...new Set(subset.map((r) => r.model))].sort((a, b) => {
    const ra = subset.find((r) => r.model === a);
    const rb = subset.find((r) => r.model === b);
    if (!ra || !rb) return 0;
    return (ra.depth ?? 0) - (rb.depth ?? 0) || NORM_ORDER.indexOf(ra.norm) - NORM_ORDER.indexOf(rb.norm) || a.localeCompare(b);
  });
  const cellGroups = new Map<string, CompareRow>();
  for (const r of subset) {
    const key = cellKey(r.model, columnOf(r));
    const other = cellGroups.get(key);
    // cannot happen once every field that differs inside a cell is an axis; a guard against merging silently
    if (other) throw new Error(`paper table: groups ${other.groupKey} and ${r.groupKey} of ${r.model} fall into one cell (${columnOf(r)})`);
    cellGroups.set(key, r);
  }
  const value = (r: CompareRow | undefined): MeanSd => (r ? (metric === 'best' ? (r.best ?? NO_VALUE) : r.final) : NO_VALUE);
  const tableRows = modelNames.map((model) => {
    const first = subset.find((r) => r.model === model);
    return {
      label: first ? modelLabel(first) : model,
      cells: columns.map((c) => value(cellGroups.get(cellKey(model, c)))),
    };
  });

  const notes: string[] = [];
  const constants = fields.constant.filter((c) => !c.isDefault);
  if (constants.length) notes.push(`Same in every cell: ${describeConstants(constants)}.`);
  for (const f of candidates) if (!axes.includes(f)) notes.push(`${describeVaryingNote(f, subset, columnOf)}.`);
  if (task === 'segmentation') {
    const pixel = subset.map((r) => `${modelLabel(r)} ${columnOf(r)} ${formatMeanSd(r.pixelAcc ?? NO_VALUE)}`);
    notes.push(`Pixel accuracy (%): ${pixel.join('; ')}.`);
  }
  const winners = significanceNotes({ columns, rows: tableRows }, notes);
  const measure = task === 'segmentation' ? 'test mIoU (%)' : 'test top-1 accuracy (%)';
  return {
    caption: `${dataset}: ${measure}, ${metric === 'final' ? 'final epoch' : 'best epoch'}, mean ± SD over seeds`,
    rowHeader: 'Model',
    columns,
    rows: tableRows,
    notes,
    winners,
    axes: axes.map((f) => f.label),
  };
}
