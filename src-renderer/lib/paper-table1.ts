/**
 * The "Paper Table 1" view's layout: the paper's CIFAR-100 Table 1 (rows = models grouped by depth, columns = batch
 * sizes 2, 32, 256), with our mean ± SD over the paper-table1 template's runs next to the published value. Pure:
 * sweeps, aggregates and published numbers in, rows of cells out.
 */

import { templateSweepOf } from '../../src-main/sweeps/templates/registry';
import { PAPER_TABLE1_NAME, TABLE1_BATCH_SIZES, TABLE1_LEARNING_RATES, TABLE1_MODELS, type Table1BatchSize } from '../../src-main/sweeps/templates/paper-table1';
import type { PublishedTable1Cell } from '../../src-main/sweeps/templates/paper-table1-published';
import type { GroupAggregate, MeanSd, RunStatus } from '../../src-main/store/types';
import { formatMeanSd } from './format';

/** The template's sweeps of one width and epoch count: what one table may show (never two of them mixed). */
export interface Table1Variant {
  key: string;
  width: number;
  epochs: number;
  sweepIds: number[];
  label: string;
}

export function variantLabel(width: number, epochs: number, defaults = { width: 1, epochs: 150 }): string {
  const parts = [`width ${width}`, `${epochs} epoch${epochs === 1 ? '' : 's'}`];
  return width === defaults.width && epochs === defaults.epochs ? `${parts.join(', ')} (the paper's)` : parts.join(', ');
}

/** The template's sweeps in the store, by variant; the paper's own setting first, then by epochs and width, larger first. */
export function table1Variants(sweeps: readonly { id: number; name: string; spec: unknown }[]): Table1Variant[] {
  const byKey = new Map<string, Table1Variant>();
  for (const sweep of sweeps) {
    const ref = templateSweepOf(sweep);
    if (!ref || ref.template !== PAPER_TABLE1_NAME) continue;
    const key = `w${ref.width}-e${ref.epochs}`;
    let variant = byKey.get(key);
    if (!variant) byKey.set(key, (variant = { key, width: ref.width, epochs: ref.epochs, sweepIds: [], label: variantLabel(ref.width, ref.epochs) }));
    variant.sweepIds.push(sweep.id);
  }
  const isPaper = (v: Table1Variant) => (v.width === 1 && v.epochs === 150 ? 1 : 0);
  return [...byKey.values()].sort((a, b) => isPaper(b) - isPaper(a) || b.epochs - a.epochs || b.width - a.width);
}

/** Where a template's runs go, as the dialog and the queued notice say it: `sweep “paper-table1 w1 e150”`, `2 sweeps`. */
export function sweepsText(names: readonly string[]): string {
  return names.length === 1 ? `sweep “${names[0]}”` : `${names.length} sweeps`;
}

export type OursCell =
  /** Finished runs give a mean; `others` counts the group's runs still queued, running or not finished. */
  | { kind: 'result'; acc: MeanSd; others: Partial<Record<RunStatus, number>> }
  /** Runs exist but none has finished. */
  | { kind: 'pending'; counts: Partial<Record<RunStatus, number>> }
  | { kind: 'not-run' }
  /** More than one config group fits the cell: shown as such rather than averaged together. */
  | { kind: 'mixed'; groups: number };

export interface Table1Cell {
  batchSize: Table1BatchSize;
  /** The reference scripts' lr for this model and batch size. */
  lr: number;
  ours: OursCell;
  paper: PublishedTable1Cell | null;
}

export interface Table1Row {
  model: string;
  label: string;
  depth: number;
  /** First row of its depth: the view draws a rule above it, as the paper groups rows by depth. */
  groupStart: boolean;
  cells: Table1Cell[];
}

const NORM_NAMES: Record<string, string> = { bn: 'BatchNorm', gn: 'GroupNorm', ln: 'LayerNorm', kn: 'KernelNorm' };

/** resnet18_bn → "ResNet-18 (BatchNorm)", preact_resnet34_gn → "PreAct ResNet-34 (GroupNorm)", knresnet50 → "KNResNet-50". */
export function modelLabel(model: string): { label: string; depth: number } {
  const kn = /^knresnet(\d+)$/.exec(model);
  if (kn) return { label: `KNResNet-${kn[1]} (KernelNorm)`, depth: Number(kn[1]) };
  const other = /^(preact_)?resnet(\d+)_(bn|gn|ln)$/.exec(model);
  if (!other) return { label: model, depth: 0 };
  return { label: `${other[1] ? 'PreAct ResNet' : 'ResNet'}-${other[2]} (${NORM_NAMES[other[3]]})`, depth: Number(other[2]) };
}

export type Table1Metric = 'finalTestAcc' | 'bestTestAcc';

/**
 * One row per model of the table, one cell per batch size. A cell takes the aggregate of its model, batch size and
 * the scripts' lr from the variant's sweeps; the published value of the same model and batch where there is one.
 */
export function buildTable1(
  aggregates: readonly GroupAggregate[],
  published: readonly PublishedTable1Cell[],
  metric: Table1Metric = 'finalTestAcc',
): Table1Row[] {
  let previousDepth = -1;
  return TABLE1_MODELS.map((model) => {
    const { label, depth } = modelLabel(model);
    const groupStart = depth !== previousDepth;
    previousDepth = depth;
    const cells = TABLE1_BATCH_SIZES.map((batchSize): Table1Cell => {
      const lr = TABLE1_LEARNING_RATES[model][batchSize];
      const fitting = aggregates.filter((a) => a.model === model && a.batchSize === batchSize && a.lr === lr && a.dataset === 'cifar100');
      return {
        batchSize, lr,
        ours: oursCell(fitting, metric),
        paper: published.find((p) => p.model === model && p.batchSize === batchSize) ?? null,
      };
    });
    return { model, label, depth, groupStart, cells };
  });
}

const UNFINISHED_ORDER: RunStatus[] = ['running', 'queued', 'interrupted', 'failed', 'diverged', 'cancelled'];

function oursCell(groups: readonly GroupAggregate[], metric: Table1Metric): OursCell {
  if (groups.length === 0) return { kind: 'not-run' };
  if (groups.length > 1) return { kind: 'mixed', groups: groups.length };
  const [group] = groups;
  const { finished: _finished, ...others } = group.runCounts;
  if (group.n > 0) return { kind: 'result', acc: group[metric], others };
  return { kind: 'pending', counts: others };
}

function countsText(counts: Partial<Record<RunStatus, number>>): string {
  return UNFINISHED_ORDER.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`).join(', ');
}

/** What a cell of ours says: "72.31 ± 0.40 (n=3)", "3 queued", "not run (3 cancelled)". */
export function oursText(cell: OursCell): { main: string; detail: string } {
  switch (cell.kind) {
    case 'result':
      return { main: formatMeanSd(cell.acc), detail: countsText(cell.others) };
    case 'pending': {
      const active = (cell.counts.queued ?? 0) + (cell.counts.running ?? 0) + (cell.counts.interrupted ?? 0);
      return active > 0 ? { main: countsText(cell.counts), detail: '' } : { main: 'not run', detail: countsText(cell.counts) };
    }
    case 'mixed':
      return { main: `${cell.groups} configs`, detail: 'not averaged together' };
    default:
      return { main: 'not run', detail: '' };
  }
}

/** The published value as printed, or "—" where none has been transcribed. */
export function paperText(cell: PublishedTable1Cell | null): string {
  if (!cell) return '—';
  return cell.sd === null ? cell.mean.toFixed(2) : `${cell.mean.toFixed(2)} ± ${cell.sd.toFixed(2)}`;
}

/** Runs of the variant by status, over every cell: the header's progress line. */
export function variantProgress(rows: readonly Table1Row[]): { finished: number; total: number; counts: Partial<Record<RunStatus, number>> } {
  const counts: Partial<Record<RunStatus, number>> = {};
  for (const row of rows) {
    for (const { ours } of row.cells) {
      const add = (status: RunStatus, n: number) => (counts[status] = (counts[status] ?? 0) + n);
      if (ours.kind === 'result') {
        add('finished', ours.acc.n);
        for (const [s, n] of Object.entries(ours.others) as [RunStatus, number][]) add(s, n);
      } else if (ours.kind === 'pending') {
        for (const [s, n] of Object.entries(ours.counts) as [RunStatus, number][]) add(s, n);
      }
    }
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return { finished: counts.finished ?? 0, total, counts };
}
