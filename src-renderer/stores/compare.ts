import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { GroupAggregate, GroupCurve } from '../../src-main/store/types';
import { STEP_METRIC_KEYS } from '../../src-worker/protocol';
import { useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { commonTask, fieldGroups, nextSort, sortRows, toCompareRows, type SortKey, type SortState, type Task } from '../lib/compare';
import { compareFields, seriesNames, type FieldComparison } from '../lib/compare-fields';
import type { MeanSd } from '../lib/format';
import { useCatalogStore } from './catalog';

/** The curve metrics a task's runs record per epoch, as the metric picker offers them. */
export const CURVE_METRICS: Record<Task, { key: string; label: string; percent: boolean }[]> = {
  classification: [
    { key: 'test_acc', label: 'test top-1', percent: true },
    { key: 'test_loss', label: 'test loss', percent: false },
    { key: 'train_loss', label: 'train loss', percent: false },
  ],
  segmentation: [
    { key: 'test_miou', label: 'test mIoU', percent: true },
    { key: 'test_pixel_acc', label: 'pixel accuracy', percent: true },
    { key: 'test_loss', label: 'test loss', percent: false },
    { key: 'train_loss', label: 'train loss', percent: false },
  ],
};

/** The worker's step-level train loss (src-worker/protocol.ts): step = the global optimizer step. */
export const STEP_LOSS_METRIC = STEP_METRIC_KEYS.trainLoss;
const KEYS_PER_CALL = 1000;

async function curvesInChunks(keys: readonly string[], metric: string): Promise<GroupCurve[]> {
  const out: GroupCurve[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL) out.push(...(await useApi().curves(keys.slice(i, i + KEYS_PER_CALL), metric)));
  return out;
}

/** The last epoch's point of each curve: mean ± SD over the finished runs that reached it. */
function finalPoints(curves: readonly GroupCurve[]): Map<string, MeanSd> {
  const out = new Map<string, MeanSd>();
  for (const c of curves) {
    const last = c.points.at(-1);
    if (last) out.set(c.groupKey, { mean: last.mean, sd: last.sd, n: last.n });
  }
  return out;
}

/**
 * Normalization layers side by side: aggregates over seeds, which config fields tell the groups apart, their
 * sort order, and the curves (per epoch and per step) of the chosen groups.
 */
export const useCompareStore = defineStore('compare', () => {
  const aggregates = shallowRef<GroupAggregate[]>([]);
  const finalMiou = shallowRef(new Map<string, MeanSd>());
  const sweepsOf = shallowRef(new Map<string, string[]>());
  const sweepId = ref<number | null>(null);
  const dataset = ref<string>('');
  const sort = ref<SortState>({ key: 'final', dir: 'desc' });
  const selected = ref<string[]>([]);
  const curveMetric = ref<string>('test_acc');
  const curves = shallowRef<GroupCurve[]>([]);
  const stepCurves = shallowRef<GroupCurve[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const curvesError = ref<string | null>(null);

  const catalog = useCatalogStore();
  const rows = computed(() => toCompareRows(aggregates.value, catalog.modelsByName, { finalMiou: finalMiou.value, sweepsOf: sweepsOf.value }));
  const datasets = computed(() => [...new Set(rows.value.map((r) => r.dataset))]);
  const visibleRows = computed(() => sortRows(dataset.value ? rows.value.filter((r) => r.dataset === dataset.value) : rows.value, sort.value));
  /** The varying and the constant fields of the groups on screen. */
  const fields = computed<FieldComparison>(() => compareFields(fieldGroups(visibleRows.value, catalog.modelsByName)));
  const names = computed(() => seriesNames(visibleRows.value, fields.value.varying));
  /** The visible groups' task, or why they cannot be shown in one table. */
  const task = computed<{ task: Task; error: null } | { task: null; error: string }>(() => {
    try {
      return { task: commonTask(visibleRows.value), error: null };
    } catch (err) {
      return { task: null, error: errorMessage(err) };
    }
  });
  const curveMetrics = computed(() => CURVE_METRICS[task.value.task ?? 'classification']);

  /**
   * Which sweeps each group's runs come from, when the view spans several sweeps: one aggregate read per sweep,
   * since a config group is shared by every sweep that ran the same configuration.
   */
  async function loadSweepMembership(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (sweepId.value !== null) return out;
    const sweeps = await useApi().listSweeps();
    if (sweeps.length < 2) return out;
    const perSweep = await Promise.all(sweeps.map(async (s) => ({ name: s.name, groups: await useApi().compare({ sweepId: s.id }) })));
    for (const { name, groups } of perSweep) for (const g of groups) out.set(g.groupKey, [...(out.get(g.groupKey) ?? []), name]);
    return out;
  }

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      await catalog.load();
      const next = await useApi().compare(sweepId.value ? { sweepId: sweepId.value } : {});
      const finished = next.filter((g) => g.n > 0).map((g) => g.groupKey);
      const [miou, membership] = await Promise.all([curvesInChunks(finished, 'test_miou'), loadSweepMembership()]);
      finalMiou.value = finalPoints(miou);
      sweepsOf.value = membership;
      aggregates.value = next;
      if (dataset.value && !datasets.value.includes(dataset.value)) dataset.value = '';
      if (!dataset.value && datasets.value.length) dataset.value = datasets.value[0] ?? '';
      if (!curveMetrics.value.some((m) => m.key === curveMetric.value)) curveMetric.value = curveMetrics.value[0]?.key ?? 'test_acc';
      const known = new Set(aggregates.value.map((a) => a.groupKey));
      selected.value = selected.value.filter((k) => known.has(k));
      if (selected.value.length === 0) selected.value = visibleRows.value.filter((r) => r.n > 0).slice(0, 4).map((r) => r.groupKey);
      await loadCurves();
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      loading.value = false;
    }
  }

  async function loadCurves(): Promise<void> {
    curvesError.value = null;
    if (selected.value.length === 0) {
      curves.value = [];
      stepCurves.value = [];
      return;
    }
    try {
      const keys = [...selected.value];
      [curves.value, stepCurves.value] = await Promise.all([curvesInChunks(keys, curveMetric.value), curvesInChunks(keys, STEP_LOSS_METRIC)]);
    } catch (err) {
      curvesError.value = errorMessage(err);
    }
  }

  function sortBy(key: SortKey): void {
    sort.value = nextSort(sort.value, key);
  }

  function toggle(groupKey: string): void {
    selected.value = selected.value.includes(groupKey) ? selected.value.filter((k) => k !== groupKey) : [...selected.value, groupKey];
    void loadCurves();
  }

  return {
    aggregates, rows, visibleRows, datasets, fields, names, task, curveMetrics, sweepId, dataset, sort, selected, curveMetric, curves,
    stepCurves, loading, error, curvesError, load, loadCurves, sortBy, toggle,
  };
});
