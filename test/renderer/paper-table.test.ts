import { describe, expect, it } from 'vitest';
import { formatMeanSd, meanSd, formatDuration } from '../../src-renderer/lib/format';
import { bestRowPerColumn, escapeLatex, toLatex, toMarkdown, type PaperTable } from '../../src-renderer/lib/paper-table';

const table: PaperTable = {
  caption: 'CIFAR-10 test top-1 (%), final epoch',
  rowHeader: 'Model',
  columns: ['B=32', 'B=256'],
  rows: [
    { label: 'ResNet-18 (BN)', cells: [meanSd([0.9201, 0.9213, 0.9189]), meanSd([0.9402, 0.9398])] },
    { label: 'KNResNet-18 (KN)', cells: [meanSd([0.9301, 0.9322, 0.9310]), meanSd([0.9391])] },
    { label: 'ResNet-18 (LN_x)', cells: [meanSd([]), meanSd([0.91, 0.92])] },
  ],
};

describe('mean ± SD formatting', () => {
  it('uses the sample SD (n − 1) and shows n', () => {
    const v = meanSd([0.9, 0.92, 0.94]);
    expect(v.mean).toBeCloseTo(0.92, 10);
    expect(v.sd).toBeCloseTo(0.02, 10);
    expect(formatMeanSd(v)).toBe('92.00 ± 2.00 (n=3)');
  });
  it('shows no spread for a single run and a dash for none', () => {
    expect(formatMeanSd(meanSd([0.5]))).toBe('50.00 (n=1)');
    expect(formatMeanSd(meanSd([]))).toBe('—');
    expect(formatMeanSd(meanSd([0.12345, 0.12345]), { digits: 1, showN: false })).toBe('12.3 ± 0.0');
  });
  it('formats durations in human units', () => {
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(3725)).toBe('1 h 2 min');
    expect(formatDuration(NaN)).toBe('—');
  });
});

describe('paper table', () => {
  it('finds the best mean per column', () => {
    const best = bestRowPerColumn(table);
    expect([...best[0]]).toEqual([1]);
    expect([...best[1]]).toEqual([0]);
  });

  it('renders Markdown with bold winners, right-aligned numbers and dashes for empty cells', () => {
    const md = toMarkdown(table);
    const lines = md.split('\n');
    expect(lines[0]).toBe('**CIFAR-10 test top-1 (%), final epoch**');
    expect(lines[2]).toBe('| Model | B=32 | B=256 |');
    expect(lines[3]).toBe('|:---|---:|---:|');
    // B=256: BN's higher mean is not bold, the runner-up (KN) has a single run, so there is nothing to test
    expect(lines[4]).toBe('| ResNet-18 (BN) | 92.01 ± 0.12 | 94.00 ± 0.03 |');
    expect(lines[5]).toBe('| KNResNet-18 (KN) | **93.11 ± 0.11** | 93.91 |');
    expect(lines[6]).toBe('| ResNet-18 (LN_x) | — | 91.50 ± 0.71 |');
    expect(lines[7]).toBe('');
    expect(lines[8]).toBe("- B=32: KNResNet-18 (KN) is best (Welch's t-test vs ResNet-18 (BN): p < 0.001, n=3 vs 3).");
    expect(lines[9]).toBe('- B=256: no clear winner (ResNet-18 (BN) vs KNResNet-18 (KN): n < 2 (n=2 vs 1)).');
  });

  it('renders booktabs LaTeX with escaped labels and $\\pm$', () => {
    const tex = toLatex(table);
    expect(tex).toContain('\\begin{tabular}{lcc}');
    expect(tex).toContain('\\caption{CIFAR-10 test top-1 (\\%), final epoch}');
    expect(tex).toContain('KNResNet-18 (KN) & \\textbf{93.11 $\\pm$ 0.11} & 93.91 \\\\');
    expect(tex).toContain('ResNet-18 (LN\\_x) & -- & 91.50 $\\pm$ 0.71 \\\\');
    expect(tex.indexOf('\\toprule')).toBeLessThan(tex.indexOf('\\midrule'));
    expect(escapeLatex('a_b & 5% #1 {x}')).toBe('a\\_b \\& 5\\% \\#1 \\{x\\}');
  });
});
