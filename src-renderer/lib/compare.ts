import type { GroupAggregate } from '../../src-main/store/types';
import type { ModelSummary } from '../../src-main/api/types';
import type { MeanSd } from './format';
import type { PaperTable } from './paper-table';

/** One config group as the compare table shows it: the aggregate plus where its model sits in the registry. */
export interface CompareRow {
  groupKey: string;
  model: string;
  family: string;
  norm: string;
  depth: number | null;
  dataset: string;
  batchSize: number;
  lr: number;
  epochs: number;
  width: number;
  n: number;
  final: MeanSd;
  best: MeanSd;
  /** Runs of the group that did not finish (diverged, failed, …), so a reader sees what was left out. */
  excluded: number;
}

export const NORM_ORDER = ['kn', 'bn', 'gn', 'ln', 'nn'];
const NORM_NAMES: Record<string, string> = { kn: 'KN', bn: 'BN', gn: 'GN', ln: 'LN', nn: 'no norm' };

export function toCompareRows(aggregates: readonly GroupAggregate[], models: ReadonlyMap<string, ModelSummary>): CompareRow[] {
  return aggregates.map((g) => {
    const info = models.get(g.model);
    const total = Object.values(g.runCounts).reduce((a, b) => a + (b ?? 0), 0);
    const width = typeof g.config.width === 'number' ? g.config.width : 1;
    return {
      groupKey: g.groupKey,
      model: g.model,
      family: info?.family ?? g.model,
      norm: info?.norm ?? '?',
      depth: info?.depth ?? null,
      dataset: g.dataset,
      batchSize: g.batchSize,
      lr: g.lr,
      epochs: g.epochs,
      width,
      n: g.n,
      final: g.finalTestAcc,
      best: g.bestTestAcc,
      excluded: total - g.n,
    };
  });
}

export type SortKey = 'model' | 'family' | 'norm' | 'depth' | 'dataset' | 'batchSize' | 'lr' | 'epochs' | 'n' | 'final' | 'best';
export interface SortState {
  key: SortKey;
  dir: 'asc' | 'desc';
}

function sortValue(row: CompareRow, key: SortKey): number | string | null {
  switch (key) {
    case 'final':
      return row.final.mean;
    case 'best':
      return row.best.mean;
    case 'norm':
      return NORM_ORDER.indexOf(row.norm);
    default:
      return row[key];
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
      const c = typeof a.v === 'string' && typeof b.v === 'string' ? a.v.localeCompare(b.v) : (a.v as number) - (b.v as number);
      return c !== 0 ? sign * c : a.index - b.index;
    })
    .map((x) => x.row);
}

/** Clicking the sorted column flips it; a new column starts descending for results, ascending otherwise. */
export function nextSort(current: SortState, key: SortKey): SortState {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: key === 'final' || key === 'best' || key === 'n' ? 'desc' : 'asc' };
}

function modelLabel(row: CompareRow): string {
  const depth = row.depth !== null ? `-${row.depth}` : '';
  const family = row.family === 'knresnet' ? 'KNResNet' : row.family === 'resnet' ? 'ResNet' : row.family === 'preact_resnet' ? 'PreAct-ResNet' : row.family;
  return `${family}${depth} (${NORM_NAMES[row.norm] ?? row.norm})`;
}

/**
 * The paper's layout: one row per model (normalization layer), one column per batch size. When a model was
 * run with several learning rates, the cell holds the lr with the highest mean, as the paper reports its tuned
 * lr; `lrNote` lists which lr that was.
 */
export function paperTable(rows: readonly CompareRow[], metric: 'final' | 'best', dataset: string): PaperTable & { lrNote: string[] } {
  const subset = rows.filter((r) => r.dataset === dataset);
  const batchSizes = [...new Set(subset.map((r) => r.batchSize))].sort((a, b) => a - b);
  const models = [...new Set(subset.map((r) => r.model))].sort((a, b) => {
    const ra = subset.find((r) => r.model === a)!;
    const rb = subset.find((r) => r.model === b)!;
    return (ra.depth ?? 0) - (rb.depth ?? 0) || NORM_ORDER.indexOf(ra.norm) - NORM_ORDER.indexOf(rb.norm) || a.localeCompare(b);
  });
  const lrNote: string[] = [];
  const tableRows = models.map((model) => {
    const first = subset.find((r) => r.model === model)!;
    return {
      label: modelLabel(first),
      cells: batchSizes.map((b) => {
        const candidates = subset.filter((r) => r.model === model && r.batchSize === b);
        let pick: CompareRow | undefined;
        for (const c of candidates) if (c[metric].mean !== null && (!pick || c[metric].mean > pick[metric].mean!)) pick = c;
        if (candidates.filter((c) => c[metric].mean !== null).length > 1 && pick) lrNote.push(`${modelLabel(first)}, B=${b}: lr ${pick.lr}`);
        return pick ? pick[metric] : { mean: null, sd: null, n: 0 };
      }),
    };
  });
  return {
    caption: `${dataset}: test top-1 accuracy (%), ${metric === 'final' ? 'final epoch' : 'best epoch'}, mean ± SD over seeds`,
    rowHeader: 'Model',
    columns: batchSizes.map((b) => `B=${b}`),
    rows: tableRows,
    lrNote,
  };
}
