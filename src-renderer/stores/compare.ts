import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { GroupAggregate, GroupCurve } from '../../src-main/store/types';
import { useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { nextSort, sortRows, toCompareRows, type SortKey, type SortState } from '../lib/compare';
import { useCatalogStore } from './catalog';

/** Normalization layers side by side: aggregates over seeds, their sort order, and curves of chosen groups. */
export const useCompareStore = defineStore('compare', () => {
  const aggregates = shallowRef<GroupAggregate[]>([]);
  const sweepId = ref<number | null>(null);
  const dataset = ref<string>('');
  const sort = ref<SortState>({ key: 'final', dir: 'desc' });
  const selected = ref<string[]>([]);
  const curveMetric = ref<'test_acc' | 'test_loss' | 'train_loss'>('test_acc');
  const curves = shallowRef<GroupCurve[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const curvesError = ref<string | null>(null);

  const catalog = useCatalogStore();
  const rows = computed(() => toCompareRows(aggregates.value, catalog.modelsByName));
  const datasets = computed(() => [...new Set(rows.value.map((r) => r.dataset))]);
  const visibleRows = computed(() => sortRows(dataset.value ? rows.value.filter((r) => r.dataset === dataset.value) : rows.value, sort.value));

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      await catalog.load();
      aggregates.value = await useApi().compare(sweepId.value ? { sweepId: sweepId.value } : {});
      if (dataset.value && !datasets.value.includes(dataset.value)) dataset.value = '';
      if (!dataset.value && datasets.value.length) dataset.value = datasets.value[0]!;
      const known = new Set(aggregates.value.map((a) => a.groupKey));
      selected.value = selected.value.filter((k) => known.has(k));
      if (selected.value.length === 0) selected.value = visibleRows.value.slice(0, 4).map((r) => r.groupKey);
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
      return;
    }
    try {
      curves.value = await useApi().curves([...selected.value], curveMetric.value);
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

  return { aggregates, rows, visibleRows, datasets, sweepId, dataset, sort, selected, curveMetric, curves, loading, error, curvesError, load, loadCurves, sortBy, toggle };
});
