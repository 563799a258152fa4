import { describe, expect, it } from 'vitest';
import type { GroupAggregate, MeanSd, RunStatus } from '../../src-main/store/types';
import { expandSweepTemplate } from '../../src-main/sweeps/templates';
import type { PublishedTable1Cell } from '../../src-main/sweeps/templates/paper-table1-published';
import { buildTable1, modelLabel, oursText, paperText, sweepsText, table1Variants, variantProgress } from '../../src-renderer/lib/paper-table1';

const acc = (values: number[]): MeanSd => {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { n, mean, sd };
};
const none: MeanSd = { n: 0, mean: null, sd: null };

function group(model: string, batchSize: number, lr: number, runCounts: Partial<Record<RunStatus, number>>, finals: number[] = []): GroupAggregate {
  return {
    groupKey: `${model}-${batchSize}-${lr}`, model, dataset: 'cifar100', lr, batchSize, epochs: 1, config: {},
    n: finals.length, seeds: finals.map((_, i) => i + 1), runCounts,
    finalTestAcc: finals.length ? acc(finals) : none, bestTestAcc: finals.length ? acc(finals.map((f) => f + 0.01)) : none, finalTestLoss: none,
  };
}

describe('Paper Table 1 layout', () => {
  it('has the 21 models as rows, grouped by depth, and batch sizes 2, 32, 256 as columns with the scripts\' lr', () => {
    const rows = buildTable1([], []);
    expect(rows).toHaveLength(21);
    expect(rows.filter((r) => r.groupStart).map((r) => r.depth)).toEqual([18, 34, 50]);
    expect(rows[0]).toMatchObject({ model: 'resnet18_bn', label: 'ResNet-18 (BatchNorm)' });
    expect(rows.map((r) => r.label)).toContain('PreAct ResNet-34 (GroupNorm)');
    expect(rows.map((r) => r.label)).toContain('KNResNet-50 (KernelNorm)');
    const kn18 = rows.find((r) => r.model === 'knresnet18');
    expect(kn18?.cells.map((c) => [c.batchSize, c.lr])).toEqual([[2, 0.0015625], [32, 0.05], [256, 0.2]]);
    // nothing in the store: every cell says so, and no published value is made up
    for (const row of rows) for (const cell of row.cells) {
      expect(oursText(cell.ours)).toEqual({ main: 'not run', detail: '' });
      expect(paperText(cell.paper)).toBe('—');
    }
  });

  it('shows mean ± SD over finished runs in %, with n, and what is still queued or running', () => {
    const rows = buildTable1([
      group('knresnet18', 2, 0.0015625, { finished: 3 }, [0.70, 0.72, 0.71]),
      group('resnet18_bn', 2, 0.00078125, { finished: 1, running: 1, queued: 1 }, [0.5]),
      group('resnet18_gn', 32, 0.025, { queued: 3 }),
      group('resnet18_ln', 256, 0.05, { cancelled: 3 }),
    ], []);
    const cell = (model: string, batch: number) => rows.find((r) => r.model === model)?.cells.find((c) => c.batchSize === batch)?.ours;
    const text = (model: string, batch: number) => { const c = cell(model, batch); return c ? oursText(c) : null; };
    expect(text('knresnet18', 2)).toEqual({ main: '71.00 ± 1.00 (n=3)', detail: '' });
    expect(text('resnet18_bn', 2)).toEqual({ main: '50.00 (n=1)', detail: '1 running, 1 queued' });
    expect(text('resnet18_gn', 32)).toEqual({ main: '3 queued', detail: '' });
    expect(text('resnet18_ln', 256)).toEqual({ main: 'not run', detail: '3 cancelled' });
    expect(text('knresnet18', 32)).toEqual({ main: 'not run', detail: '' });
    expect(variantProgress(rows)).toEqual({ finished: 4, total: 12, counts: { finished: 4, running: 1, queued: 4, cancelled: 3 } });
    const best = buildTable1([group('knresnet18', 2, 0.0015625, { finished: 3 }, [0.70, 0.72, 0.71])], [], 'bestTestAcc');
    expect(oursText(best[6].cells[0].ours).main).toBe('72.00 ± 1.00 (n=3)');
  });

  it('never averages two config groups into one cell, and ignores a group at another lr', () => {
    const rows = buildTable1([
      group('knresnet18', 32, 0.05, { finished: 1 }, [0.6]),
      { ...group('knresnet18', 32, 0.05, { finished: 1 }, [0.8]), groupKey: 'other' },
      group('knresnet34', 32, 0.1, { finished: 1 }, [0.9]),
    ], []);
    const kn18 = rows.find((r) => r.model === 'knresnet18')?.cells[1].ours;
    expect(kn18 && oursText(kn18)).toEqual({ main: '2 configs', detail: 'not averaged together' });
    const kn34 = rows.find((r) => r.model === 'knresnet34')?.cells[1].ours;
    expect(kn34).toEqual({ kind: 'not-run' });
  });

  it('puts a published value beside ours where one is given', () => {
    const published: PublishedTable1Cell[] = [{ model: 'knresnet18', batchSize: 256, mean: 12.34, sd: 0.5, readFrom: 'test' }];
    const rows = buildTable1([], published);
    const kn18 = rows.find((r) => r.model === 'knresnet18');
    expect(kn18?.cells.map((c) => paperText(c.paper))).toEqual(['—', '—', '12.34 ± 0.50']);
  });

  it('finds the template\'s sweeps per width/epochs variant, the paper\'s setting first, and no other sweep', () => {
    let id = 0;
    const stored = (options: { width?: number; epochs?: number }) =>
      expandSweepTemplate('paper-table1', options).specs.map((spec) => ({ id: ++id, name: spec.name, spec }));
    const quick = stored({ width: 0.0625, epochs: 1 });
    const full = stored({});
    // a store from before the template was one sweep holds it as one sweep per (batch size, lr): still the same variant
    const before = { id: 50, name: 'paper-table1 w0.0625 e1 b2 lr0.00078125', spec: { base: { preset: 'cifar100-paper', batchSize: 2, lr: 0.00078125, width: 0.0625, epochs: 1 } } };
    const variants = table1Variants([...quick, { id: 99, name: 'kn-vs-bn', spec: {} }, ...full, before]);
    expect(variants.map((v) => [v.label, v.sweepIds.length])).toEqual([['width 1, 150 epochs (the paper\'s)', 1], ['width 0.0625, 1 epoch', 2]]);
    expect(variants[1].sweepIds).toEqual([...quick.map((s) => s.id), before.id]);
  });

  it('says where a template\'s runs go: the one sweep by name, several by count', () => {
    expect(sweepsText(['paper-table1 w1 e150'])).toBe('sweep “paper-table1 w1 e150”');
    expect(sweepsText(['a', 'b'])).toBe('2 sweeps');
  });

  it('labels the models as the paper names them', () => {
    expect(modelLabel('preact_resnet50_ln')).toEqual({ label: 'PreAct ResNet-50 (LayerNorm)', depth: 50 });
    expect(modelLabel('knresnet34')).toEqual({ label: 'KNResNet-34 (KernelNorm)', depth: 34 });
  });
});
