/**
 * "Paper table" export of a comparison: one row per normalization layer, one column per batch size (or any
 * other grouping), cells "mean ± SD" — the layout of the KNResNet paper's accuracy tables. A column's best mean
 * is bold only when Welch's t-test puts it significantly above the runner-up; the notes under the table say
 * which test decided each column and with what n.
 */

import { formatMeanSd, type MeanSd } from './format';
import { formatP, significantWinner } from './welch';

export interface PaperTable {
  caption: string;
  /** Header of the first (row label) column, e.g. "Model". */
  rowHeader: string;
  columns: string[];
  rows: { label: string; cells: MeanSd[] }[];
  digits?: number;
  /** Lines printed under the table: what is the same everywhere, what differs by row, the significance tests. */
  notes?: string[];
  /** The bold row of each column (null: no clear winner); computed from the cells when absent. */
  winners?: (number | null)[];
}

const NO_VALUE: MeanSd = { mean: null, sd: null, n: 0 };

/** Row indices holding the highest mean of each column (ties: all of them). */
export function bestRowPerColumn(table: PaperTable): Set<number>[] {
  return table.columns.map((_, c) => {
    let best = -Infinity;
    for (const row of table.rows) {
      const m = row.cells[c]?.mean;
      if (m !== null && m !== undefined && m > best) best = m;
    }
    const winners = new Set<number>();
    table.rows.forEach((row, r) => {
      if (row.cells[c]?.mean === best) winners.add(r);
    });
    return winners;
  });
}

/** Bold row per column (null: none), each decision written to `notes` with its test and n. */
export function significanceNotes(table: Pick<PaperTable, 'columns' | 'rows'>, notes: string[]): (number | null)[] {
  return table.columns.map((column, c) => {
    const verdict = significantWinner(table.rows.map((r) => r.cells[c] ?? NO_VALUE));
    const name = (i: number) => table.rows[i]?.label ?? '?';
    switch (verdict.kind) {
      case 'winner': {
        const n = (i: number) => table.rows[i]?.cells[c]?.n ?? 0;
        notes.push(`${column}: ${name(verdict.index)} is best (Welch's t-test vs ${name(verdict.runnerUp)}: ${formatP(verdict.test.p)}, n=${n(verdict.index)} vs ${n(verdict.runnerUp)}).`);
        return verdict.index;
      }
      case 'no-clear-winner':
        notes.push(`${column}: no clear winner (${name(verdict.index)} vs ${name(verdict.runnerUp)}: ${verdict.reason}).`);
        return null;
      default:
        return null;
    }
  });
}

/** The table's bold rows and all its notes: its own, then one per column on the significance test. */
function decided(table: PaperTable): { winners: (number | null)[]; notes: string[] } {
  const notes = [...(table.notes ?? [])];
  if (table.winners) return { winners: table.winners, notes };
  return { winners: significanceNotes(table, notes), notes };
}

function cellText(cell: MeanSd | undefined, digits: number, plusMinus: string): string {
  if (!cell || cell.n === 0) return '—';
  return formatMeanSd(cell, { digits, showN: false, plusMinus });
}

function escapeMarkdown(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function toMarkdown(table: PaperTable): string {
  const digits = table.digits ?? 2;
  const { winners, notes } = decided(table);
  const header = `| ${[table.rowHeader, ...table.columns].map(escapeMarkdown).join(' | ')} |`;
  const rule = `|${[table.rowHeader, ...table.columns].map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`;
  const body = table.rows.map((row, r) => {
    const cells = table.columns.map((_, c) => {
      const text = cellText(row.cells[c], digits, '±');
      return winners[c] === r && text !== '—' ? `**${text}**` : text;
    });
    return `| ${[escapeMarkdown(row.label), ...cells].join(' | ')} |`;
  });
  const footer = notes.length ? ['', ...notes.map((n) => `- ${escapeMarkdown(n)}`)] : [];
  return [`**${escapeMarkdown(table.caption)}**`, '', header, rule, ...body, ...footer, ''].join('\n');
}

const LATEX_SPECIALS: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
};

export function escapeLatex(text: string): string {
  return text.replace(/[\\&%$#_{}~^]/g, (ch) => LATEX_SPECIALS[ch]);
}

/** A booktabs table; needs \usepackage{booktabs} in the preamble. */
export function toLatex(table: PaperTable): string {
  const digits = table.digits ?? 2;
  const { winners, notes } = decided(table);
  const spec = `l${'c'.repeat(table.columns.length)}`;
  const header = [table.rowHeader, ...table.columns].map(escapeLatex).join(' & ');
  const body = table.rows.map((row, r) => {
    const cells = table.columns.map((_, c) => {
      const text = cellText(row.cells[c], digits, '$\\pm$');
      return winners[c] === r && text !== '—' ? `\\textbf{${text}}` : text === '—' ? '--' : text;
    });
    return `${[escapeLatex(row.label), ...cells].join(' & ')} \\\\`;
  });
  return [
    '\\begin{table}[t]',
    '\\centering',
    `\\caption{${escapeLatex(table.caption)}}`,
    `\\begin{tabular}{${spec}}`,
    '\\toprule',
    `${header} \\\\`,
    '\\midrule',
    ...body,
    '\\bottomrule',
    '\\end{tabular}',
    ...(notes.length ? ['\\par\\smallskip\\footnotesize', ...notes.map((n) => `${escapeLatex(n)}\\\\`)] : []),
    '\\end{table}',
    '',
  ].join('\n');
}
