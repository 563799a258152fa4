import { describe, expect, it } from 'vitest';
import type { ModelSummary } from '../../src-main/api/types';
import type { GroupAggregate } from '../../src-main/store/types';
import { parseRunSpec } from '../../src-worker/run-spec';
import { uniqueSeriesNames, formatPoint, meanSdSeries, smoothedMeanSdSeries } from '../../src-renderer/lib/chart-series';
import { emaSmooth } from '../../src-renderer/lib/step-curves';
import { commonTask, fieldGroups, metricColumns, paperTable, sortRows, toCompareRows, type CompareRow } from '../../src-renderer/lib/compare';
import { compareFields, describeConstants, seriesNames, showValue } from '../../src-renderer/lib/compare-fields';
import { meanSd, type MeanSd } from '../../src-renderer/lib/format';
import { toLatex, toMarkdown } from '../../src-renderer/lib/paper-table';

const MODELS = new Map<string, ModelSummary>([
  ['knresnet18', { name: 'knresnet18', family: 'knresnet', norm: 'kn', depth: 18, description: '' }],
  ['resnet18_bn', { name: 'resnet18_bn', family: 'resnet', norm: 'bn', depth: 18, description: '' }],
  ['resnet18_gn', { name: 'resnet18_gn', family: 'resnet', norm: 'gn', depth: 18, description: '' }],
  ['fc_knresnet18', { name: 'fc_knresnet18', family: 'fc_knresnet', norm: 'kn', depth: 18, description: '', task: 'segmentation' }],
  ['fc_resnet18_bn', { name: 'fc_resnet18_bn', family: 'fc_resnet', norm: 'bn', depth: 18, description: '', task: 'segmentation' }],
]);

let nextKey = 0;
/** A group aggregate as the store returns it: the config is the parsed spec without its seed. */
function group(spec: Record<string, unknown>, final: number[], best = final): GroupAggregate {
  const { seed: _seed, ...config } = parseRunSpec({ dataset: 'synthetic', epochs: 1, batchSize: 16, lr: 0.05, width: 0.0625, seed: 1, ...spec });
  return {
    groupKey: `g${nextKey++}`, model: config.model, dataset: config.dataset, lr: config.lr, batchSize: config.batchSize, epochs: config.epochs, config,
    n: final.length, seeds: final.map((_, i) => i + 1), runCounts: { finished: final.length },
    finalTestAcc: meanSd(final), bestTestAcc: meanSd(best), finalTestLoss: meanSd([]),
  };
}

describe('fields that tell the groups apart', () => {
  it('makes what differs a column and states the rest once, with the scope of model-specific fields', () => {
    const groups = [
      group({ model: 'knresnet18', epochs: 1 }, [0.3, 0.31]),
      group({ model: 'resnet18_gn', epochs: 1 }, [0.2, 0.22]),
      group({ model: 'knresnet18', epochs: 2 }, [0.4, 0.41]),
    ];
    const rows = toCompareRows(groups, MODELS);
    const { varying, constant } = compareFields(fieldGroups(rows, MODELS));
    expect(varying.map((f) => f.path)).toEqual(['epochs']);
    expect(varying[0].label).toBe('Epochs');
    expect([...varying[0].values.values()]).toEqual(['1', '1', '2']);
    const byPath = new Map(constant.map((c) => [c.path, c]));
    expect(byPath.get('width')).toMatchObject({ label: 'Width multiplier', text: '0.0625', isDefault: false, scope: null });
    expect(byPath.get('lr')).toMatchObject({ text: '0.05', isDefault: false });
    expect(byPath.get('batchSize')).toMatchObject({ text: '16' });
    // GroupNorm groups apply to the GN model only; KN dropout to the KN models only
    expect(byPath.get('groups')).toMatchObject({ text: '32', isDefault: true, scope: 'GroupNorm models only' });
    expect(byPath.get('knDropout')).toMatchObject({ scope: 'KernelNorm models only' });
    expect(byPath.has('model')).toBe(false);
    // the seed is what the mean is over, and an unset optional field behaves as its default
    expect(byPath.has('seed')).toBe(false);
    expect(byPath.get('nesterov')).toMatchObject({ text: 'off', isDefault: true });
    expect(describeConstants(constant.filter((c) => c.path === 'lr' || c.path === 'width'))).toBe('Learning rate 0.05 · Width multiplier 0.0625');
  });

  it('sees width, batch size, lr, DP-SGD on/off and the sweep as differences', () => {
    const groups = [
      group({ model: 'resnet18_gn', width: 0.125, batchSize: 32, lr: 0.1 }, [0.5]),
      group({ model: 'resnet18_gn', dp: { targetEpsilon: 8, logicalBatch: 64 } }, [0.4]),
    ];
    const sweepsOf = new Map([[groups[0].groupKey, ['sweep-a']], [groups[1].groupKey, ['sweep-b', 'sweep-a']]]);
    const rows = toCompareRows(groups, MODELS, { sweepsOf });
    const { varying } = compareFields(fieldGroups(rows, MODELS));
    const paths = varying.map((f) => f.path);
    for (const p of ['batchSize', 'lr', 'width', 'dp', 'sweep']) expect(paths).toContain(p);
    expect(varying.find((f) => f.path === 'dp')?.values.get(rows[1].groupKey)).toBe('on');
    expect(varying.find((f) => f.path === 'sweep')?.values.get(rows[1].groupKey)).toBe('sweep-a, sweep-b');
    // the sweep comes last, after the schema's fields
    expect(paths.at(-1)).toBe('sweep');
  });

  it('names every series uniquely from the model and the varying fields', () => {
    const rows = toCompareRows(
      [
        group({ model: 'knresnet18', batchSize: 16 }, [0.3]), group({ model: 'knresnet18', batchSize: 32 }, [0.3]),
        group({ model: 'resnet18_bn', batchSize: 16 }, [0.3]), group({ model: 'resnet18_bn', batchSize: 32 }, [0.3]),
      ],
      MODELS,
    );
    const names = seriesNames(rows, compareFields(fieldGroups(rows, MODELS)).varying);
    expect([...names.values()]).toEqual([
      'knresnet18 · Batch size 16', 'knresnet18 · Batch size 32', 'resnet18_bn · Batch size 16', 'resnet18_bn · Batch size 32',
    ]);
    // the four ticked rows of the issue had three legend entries; names that coincide are told apart
    expect(uniqueSeriesNames([{ name: 'a' }, { name: 'b' }, { name: 'a' }, { name: 'a #2' }])).toEqual(['a', 'b', 'a #3', 'a #2']);
    expect(new Set(uniqueSeriesNames([{ name: 'x' }, { name: 'x' }, { name: 'x' }, { name: 'y' }])).size).toBe(4);
  });

  it('sorts by a varying field', () => {
    const rows = toCompareRows([group({ model: 'knresnet18', width: 0.25 }, [0.3]), group({ model: 'knresnet18', width: 0.125 }, [0.3])], MODELS);
    expect(sortRows(rows, { key: 'width', dir: 'asc' }).map((r) => r.width)).toEqual([0.125, 0.25]);
    expect(sortRows(rows, { key: 'width', dir: 'desc' }).map((r) => r.width)).toEqual([0.25, 0.125]);
  });
});

describe('chart points', () => {
  it('carry SD and n for the tooltip, and a ±SD band', () => {
    const s = meanSdSeries('kn', [{ x: 3, mean: 0.5, sd: 0.1, n: 2 }, { x: 4, mean: 0.6, sd: null, n: 1 }]);
    expect(s.points).toEqual([[3, 0.5], [4, 0.6]]);
    expect(s.band?.lower[0][1]).toBeCloseTo(0.4, 12);
    expect(s.band?.upper[0][1]).toBeCloseTo(0.6, 12);
    expect(formatPoint(0.5, s.stats?.[0], true)).toBe('50.00 ± 10.00 % (n=2)');
    expect(formatPoint(0.6, s.stats?.[1], false)).toBe('0.6000 (n=1)');
    expect(formatPoint(null, undefined, false)).toBe('—');
  });

  it('smooth a step curve and its band alike, keeping n per step', () => {
    const points = [{ x: 5, mean: 2, sd: 0.2, n: 2 }, { x: 10, mean: 1, sd: 0.4, n: 2 }, { x: 15, mean: null, sd: null, n: 0 }];
    const s = smoothedMeanSdSeries('kn', points, (v) => emaSmooth(v, 0.5));
    // debiased EMA, weight 0.5: the first point is itself, the second (0.5·0.5·2 + 0.5·1) / 0.75 = 4/3
    expect(s.points[0]).toEqual([5, 2]);
    expect(s.points[1][1]).toBeCloseTo(4 / 3, 12);
    expect(s.band?.upper[1][1]).toBeCloseTo(4 / 3 + (0.25 * 0.2 + 0.5 * 0.4) / 0.75, 12);
    expect(s.points[2]).toEqual([15, null]);
    expect(s.stats?.map((p) => p.n)).toEqual([2, 2, 0]);
  });
});

function cell(md: string, row: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${row} |`));
  if (!line) throw new Error(`no row ${row} in\n${md}`);
  return line.split('|').slice(2, -1).map((c) => c.trim());
}

describe('paper table never puts two groups in one cell', () => {
  it('makes epochs a column axis when two sweeps differ in it, and says what is the same', () => {
    const rows = toCompareRows(
      [
        group({ model: 'knresnet18', epochs: 1 }, [0.30, 0.32]), group({ model: 'resnet18_bn', epochs: 1 }, [0.20, 0.21]),
        group({ model: 'knresnet18', epochs: 2 }, [0.40, 0.42]), group({ model: 'resnet18_bn', epochs: 2 }, [0.35, 0.36]),
      ],
      MODELS,
    );
    const table = paperTable(rows, 'final', 'synthetic', MODELS);
    expect(table.columns).toEqual(['B=16, Epochs 1', 'B=16, Epochs 2']);
    expect(table.axes).toEqual(['Epochs']);
    const md = toMarkdown(table);
    expect(cell(md, 'KNResNet-18 (KN)')).toEqual(['**31.00 ± 1.41**', '41.00 ± 1.41']);
    expect(cell(md, 'ResNet-18 (BN)')).toEqual(['20.50 ± 0.71', '35.50 ± 0.71']);
    // lr is 0.05 everywhere, so the note says exactly that
    expect(md).toMatch(/- Same in every cell: .*Learning rate 0\.05.*Width multiplier 0\.0625/);
    expect(md).not.toMatch(/several learning rates/i);
    expect(md).toContain("- B=16, Epochs 1: KNResNet-18 (KN) is best (Welch's t-test vs ResNet-18 (BN): p = 0.027, n=2 vs 2).");
    expect(md).toContain('- B=16, Epochs 2: no clear winner (KNResNet-18 (KN) vs ResNet-18 (BN): p = 0.069, n=2 vs 2).');
  });

  it('does not split the columns again by a sweep that only repeats the epochs, and says which sweep each column is', () => {
    const groups = [
      group({ model: 'knresnet18', epochs: 1 }, [0.30, 0.32]), group({ model: 'resnet18_bn', epochs: 1 }, [0.20, 0.21]),
      group({ model: 'knresnet18', epochs: 2 }, [0.40, 0.42]), group({ model: 'resnet18_bn', epochs: 2 }, [0.35, 0.36]),
    ];
    const sweepsOf = new Map(groups.map((g) => [g.groupKey, [g.epochs === 1 ? 'short' : 'long']]));
    const table = paperTable(toCompareRows(groups, MODELS, { sweepsOf }), 'final', 'synthetic', MODELS);
    expect(table.columns).toEqual(['B=16, Epochs 1', 'B=16, Epochs 2']);
    expect(table.notes).toContain('Sweep by column: B=16, Epochs 1: short; B=16, Epochs 2: long.');
  });

  it('lists a field that differs by model instead of claiming one value', () => {
    const rows = toCompareRows([group({ model: 'knresnet18', lr: 0.1 }, [0.3, 0.31]), group({ model: 'resnet18_bn', lr: 0.05 }, [0.2, 0.21])], MODELS);
    const table = paperTable(rows, 'final', 'synthetic', MODELS);
    expect(table.columns).toEqual(['B=16']);
    expect(table.notes).toContain('Learning rate: KNResNet-18 (KN) 0.1; ResNet-18 (BN) 0.05.');
    expect(table.notes?.some((n) => n.startsWith('Same in every cell:') && n.includes('Learning rate'))).toBe(false);
  });

  it('makes lr an axis when one model ran several', () => {
    const rows = toCompareRows(
      [group({ model: 'knresnet18', lr: 0.1 }, [0.3]), group({ model: 'knresnet18', lr: 0.05 }, [0.2]), group({ model: 'resnet18_bn', lr: 0.1 }, [0.25])],
      MODELS,
    );
    const table = paperTable(rows, 'final', 'synthetic', MODELS);
    expect(table.columns).toEqual(['B=16, Learning rate 0.05', 'B=16, Learning rate 0.1']);
    expect(table.rows.map((r) => r.cells.map((c) => c.mean))).toEqual([[0.2, 0.3], [null, 0.25]]);
    // n = 1 everywhere: nothing is bold
    expect(toLatex(table)).not.toContain('\\textbf');
    expect(toLatex(table)).toContain('no clear winner');
  });
});

describe('segmentation groups', () => {
  const miou = (values: number[]): MeanSd => meanSd(values);
  const segRows = (): CompareRow[] => {
    const groups = [
      group({ model: 'fc_knresnet18', dataset: 'cityscapes', dataDir: '/data/cs', batchSize: 2 }, [0.81, 0.82]),
      group({ model: 'fc_resnet18_bn', dataset: 'cityscapes', dataDir: '/data/cs', batchSize: 2 }, [0.78, 0.80]),
    ];
    return toCompareRows(groups, MODELS, { finalMiou: new Map([[groups[0].groupKey, miou([0.40, 0.42])], [groups[1].groupKey, miou([0.30, 0.31])]]) });
  };

  it('are ranked by mIoU, with pixel accuracy beside it', () => {
    const rows = segRows();
    expect(rows.map((r) => r.task)).toEqual(['segmentation', 'segmentation']);
    expect(rows[0].final.mean).toBeCloseTo(0.41, 12);
    expect(rows[0].pixelAcc?.mean).toBeCloseTo(0.815, 12);
    expect(rows[0].best).toBeNull();
    expect(metricColumns('segmentation').map((c) => c.label)).toEqual(['Final test mIoU (%)', 'Final pixel accuracy (%)']);
    const md = toMarkdown(paperTable(rows, 'final', 'cityscapes', MODELS));
    expect(md.split('\n')[0]).toBe('**cityscapes: test mIoU (%), final epoch, mean ± SD over seeds**');
    expect(cell(md, 'FC-KNResNet-18 (KN)')).toEqual(['**41.00 ± 1.41**']);
    expect(md).toContain('- Pixel accuracy (%): FC-KNResNet-18 (KN) B=2 81.50 ± 0.71 (n=2); FC-ResNet-18 (BN) B=2 79.00 ± 1.41 (n=2).');
    expect(() => paperTable(rows, 'best', 'cityscapes', MODELS)).toThrow(/best-epoch mIoU is not kept per run/);
  });

  it('are recognised by their mIoU when the registry does not know the model', () => {
    const g = group({ model: 'fc_resnet18_bn', dataset: 'cityscapes', dataDir: '/data/cs' }, [0.7, 0.72]);
    const [row] = toCompareRows([g], new Map(), { finalMiou: new Map([[g.groupKey, miou([0.3, 0.32])]]) });
    expect(row.task).toBe('segmentation');
    expect(row.final.mean).toBeCloseTo(0.31, 12);
  });

  it('are never mixed with classifiers in one table', () => {
    const rows = [...segRows(), ...toCompareRows([group({ model: 'knresnet18', dataset: 'cityscapes', dataDir: '/data/cs' }, [0.5, 0.52])], MODELS)];
    expect(() => commonTask(rows)).toThrow(
      'these groups mix segmentation models (fc_knresnet18, fc_resnet18_bn) with classifiers (knresnet18): mIoU and top-1 accuracy are different measures and cannot share a table; choose one data set or one sweep',
    );
    expect(() => paperTable(rows, 'final', 'cityscapes', MODELS)).toThrow(/mix segmentation models/);
  });
});

describe('config values in cells', () => {
  it('shows a learning rate as it was set, not rounded (the paper\'s 0.00078125 and 0.0015625 are distinct runs)', () => {
    expect(showValue(0.00078125)).toBe('0.00078125');
    expect(showValue(0.0015625)).toBe('0.0015625');
    expect(showValue(0.000390626)).toBe('0.000390626');
    expect(showValue(0.1 + 0.2)).toBe('0.3');
    expect(showValue(0.0625)).toBe('0.0625');
  });
});
