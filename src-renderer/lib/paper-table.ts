/**
 * "Paper table" export of a comparison: one row per normalization layer, one column per batch size (or any
 * other grouping), cells "mean ± SD", the best mean of each column in bold — the layout of the KNResNet
 * paper's accuracy tables.
 */

import { formatMeanSd, type MeanSd } from './format';

export interface PaperTable {
  caption: string;
  /** Header of the first (row label) column, e.g. "Model". */
  rowHeader: string;
  columns: string[];
  rows: { label: string; cells: MeanSd[] }[];
  digits?: number;
}

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

function cellText(cell: MeanSd | undefined, digits: number, plusMinus: string): string {
  if (!cell || cell.n === 0) return '—';
  return formatMeanSd(cell, { digits, showN: false, plusMinus });
}

function escapeMarkdown(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function toMarkdown(table: PaperTable): string {
  const digits = table.digits ?? 2;
  const best = bestRowPerColumn(table);
  const header = `| ${[table.rowHeader, ...table.columns].map(escapeMarkdown).join(' | ')} |`;
  const rule = `|${[table.rowHeader, ...table.columns].map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`;
  const body = table.rows.map((row, r) => {
    const cells = table.columns.map((_, c) => {
      const text = cellText(row.cells[c], digits, '±');
      return best[c].has(r) && text !== '—' ? `**${text}**` : text;
    });
    return `| ${[escapeMarkdown(row.label), ...cells].join(' | ')} |`;
  });
  return [`**${escapeMarkdown(table.caption)}**`, '', header, rule, ...body, ''].join('\n');
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
  const best = bestRowPerColumn(table);
  const spec = `l${'c'.repeat(table.columns.length)}`;
  const header = [table.rowHeader, ...table.columns].map(escapeLatex).join(' & ');
  const body = table.rows.map((row, r) => {
    const cells = table.columns.map((_, c) => {
      const text = cellText(row.cells[c], digits, '$\\pm$');
      return best[c].has(r) && text !== '—' ? `\\textbf{${text}}` : text === '—' ? '--' : text;
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
    '\\end{table}',
    '',
  ].join('\n');
}
