// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import CompareTable from '../../src-renderer/components/CompareTable.vue';
import PaperTableExport from '../../src-renderer/components/PaperTableExport.vue';
import { paperTable } from '../../src-renderer/lib/compare';
import { toMarkdown } from '../../src-renderer/lib/paper-table';
import { useCompareStore } from '../../src-renderer/stores/compare';
import { ExperimentStore } from '../../src-main/store';
import { parseRunSpec } from '../../src-worker/run-spec';
import { useInProcessClient } from './in-process-client';

/**
 * The compare store on a real SQLite store: two sweeps that share one configuration, a segmentation sweep with
 * mIoU per epoch, and step-level train loss from the workers' 'steps' events.
 */
const BASE = { dataset: 'synthetic', epochs: 2, batchSize: 16, lr: 0.05, width: 0.0625, syntheticTrainSize: 64 } as const;

function finish(store: ExperimentStore, id: number, acc: number, extra: Record<string, number> = {}, stepLoss?: (step: number) => number): void {
  store.markRunning(id, 'cpu:0');
  store.apply(id, { event: 'started', backend: 'wasm', device: 'cpu', skippedBackends: [], resumedFromEpoch: 0, numParams: 1000 });
  for (let epoch = 1; epoch <= 2; epoch++) {
    if (stepLoss) {
      const steps = [1, 2].map((k) => (epoch - 1) * 2 + k);
      store.apply(id, { event: 'steps', epoch, points: steps.map((step) => ({ step, train_loss: stepLoss(step), lr: 0.05 })) });
    }
    store.apply(id, {
      event: 'epoch', epoch,
      metrics: { train_loss: 1, train_acc: acc, test_loss: 1, test_acc: acc, test_acc5: acc, lr: 0.05, epoch_time_s: 1, images_per_s: 10, num_tensors: 1, ...extra },
    });
  }
  store.apply(id, { event: 'done', status: 'finished', metrics: { test_acc: acc, test_acc5: acc, test_loss: 1, train_loss: 1, train_acc: acc, best_test_acc: acc, epochs_completed: 2 } });
}

useInProcessClient((file) => {
  const store = ExperimentStore.open(file);
  try {
    const a = store.upsertSweep({ name: 'sweep-a', spec: {} }).sweep;
    const b = store.upsertSweep({ name: 'sweep-b', spec: {} }).sweep;
    const seg = store.upsertSweep({ name: 'seg', spec: {} }).sweep;
    const runsA = store.addRuns(a.id, [1, 2].flatMap((seed) => ['knresnet18', 'resnet18_bn'].map((model) => parseRunSpec({ ...BASE, model, seed })))).runs;
    // sweep-b repeats knresnet18's configuration with new seeds and adds a wider one
    const runsB = store.addRuns(b.id, [3, 4].flatMap((seed) => [parseRunSpec({ ...BASE, model: 'knresnet18', seed }), parseRunSpec({ ...BASE, model: 'knresnet18', width: 0.125, seed })])).runs;
    const record = (id: number) => {
      const run = store.getRun(id);
      if (!run) throw new Error(`run ${id} was not added`);
      return run;
    };
    for (const [i, r] of [...runsA, ...runsB].map((x) => record(x.id)).entries()) finish(store, r.id, 0.3 + 0.01 * i, {}, (step) => 2 / step + 0.01 * r.seed);
    const segRuns = store.addRuns(seg.id, [1, 2].flatMap((seed) => ['fc_knresnet18', 'fc_resnet18_bn'].map((model) =>
      parseRunSpec({ model, dataset: 'cityscapes', dataDir: '/data/cityscapes', epochs: 2, batchSize: 2, lr: 0.01, seed })))).runs;
    for (const r of segRuns.map((x) => record(x.id))) {
      const kn = r.model === 'fc_knresnet18';
      finish(store, r.id, kn ? 0.8 : 0.7, { test_miou: (kn ? 0.4 : 0.3) + 0.01 * r.seed, test_pixel_acc: kn ? 0.8 : 0.7 });
    }
  } finally {
    store.close();
  }
});

async function loaded(dataset: string) {
  setActivePinia(createPinia());
  const compare = useCompareStore();
  await compare.load();
  compare.dataset = dataset;
  return compare;
}

describe('compare store on a real store', () => {
  it('knows which sweeps each group comes from, so the sweep is a column where it differs', async () => {
    const compare = await loaded('synthetic');
    const kn = compare.visibleRows.filter((r) => r.model === 'knresnet18');
    const shared = kn.find((r) => r.width === 0.0625);
    expect(shared?.sweeps.sort()).toEqual(['sweep-a', 'sweep-b']);
    expect(shared?.n).toBe(4);
    expect(kn.find((r) => r.width === 0.125)?.sweeps).toEqual(['sweep-b']);
    expect(compare.fields.varying.map((f) => f.path)).toEqual(['width', 'sweep']);
    const names = [...compare.names.values()];
    expect(new Set(names).size).toBe(3);
    expect(names).toContain('knresnet18 · Width multiplier 0.125 · Sweep sweep-b');
  });

  it('loads step-level train loss as mean ± SD over seeds per global step', async () => {
    const compare = await loaded('synthetic');
    expect(compare.stepCurves.length).toBe(compare.selected.length);
    const bn = compare.visibleRows.find((r) => r.model === 'resnet18_bn');
    const curve = compare.stepCurves.find((c) => c.groupKey === bn?.groupKey);
    expect(curve?.metric).toBe('step/train_loss');
    expect(curve?.points.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    // seeds 1 and 2 log 2/step + 0.01·seed: mean 2/step + 0.015, SD 0.01/√2
    expect(curve?.points[1].mean).toBeCloseTo(1 + 0.015, 10);
    expect(curve?.points[1].sd).toBeCloseTo(0.01 / Math.SQRT2, 10);
    expect(curve?.points.every((p) => p.n === 2)).toBe(true);
  });

  it('ranks segmentation groups by their final mIoU, with pixel accuracy, under columns that say so', async () => {
    const compare = await loaded('cityscapes');
    expect(compare.task).toEqual({ task: 'segmentation', error: null });
    expect(compare.curveMetrics.map((m) => m.key)).toContain('test_miou');
    const kn = compare.visibleRows.find((r) => r.model === 'fc_knresnet18');
    expect(kn?.final.mean).toBeCloseTo(0.415, 10);
    expect(kn?.final.n).toBe(2);
    expect(kn?.pixelAcc?.mean).toBeCloseTo(0.8, 10);
    const wrapper = mount(CompareTable, { props: { rows: compare.visibleRows, sort: compare.sort, selected: [], task: 'segmentation' } });
    expect(wrapper.findAll('thead th').map((th) => th.text().replace(/[▲▼]/g, '').trim())).toEqual(expect.arrayContaining(['Final test mIoU (%)', 'Final pixel accuracy (%)']));
    expect(wrapper.findAll('td[data-col="final"]').map((td) => td.text())).toEqual(['41.50 ± 0.71', '31.50 ± 0.71']);
    const md = toMarkdown(paperTable(compare.rows, 'final', 'cityscapes'));
    expect(md).toContain('test mIoU (%)');
    expect(md).toContain('| FC-KNResNet-18 (KN) | **41.50 ± 0.71** |');
  });

  it('refuses a view that mixes segmentation and classification groups', async () => {
    const compare = await loaded('');
    expect(compare.task.task).toBeNull();
    expect(compare.task.error).toMatch(/^these groups mix segmentation models \(fc_knresnet18, fc_resnet18_bn\) with classifiers \(knresnet18, resnet18_bn\)/);
  });

  it('the paper table panel says why it shows no table for mixed tasks, and offers only the final epoch for segmentation', async () => {
    const compare = await loaded('cityscapes');
    const classifier = compare.rows.find((r) => r.model === 'resnet18_bn');
    if (!classifier) throw new Error('fixture has no resnet18_bn group');
    const mixed = mount(PaperTableExport, { props: { rows: [...compare.rows, { ...classifier, dataset: 'cityscapes' }], dataset: 'cityscapes' } });
    expect(mixed.find('[data-testid="paper-table-error"]').text()).toMatch(/^No paper table: these groups mix segmentation models .* with classifiers \(resnet18_bn\)/);
    expect(mixed.find('[data-testid="paper-table"]').exists()).toBe(false);
    const seg = mount(PaperTableExport, { props: { rows: compare.rows, dataset: 'cityscapes' } });
    expect(seg.find('select').attributes('disabled')).toBeDefined();
    expect(seg.find('[data-testid="paper-table"]').text()).toContain('cityscapes: test mIoU (%), final epoch');
  });
});
