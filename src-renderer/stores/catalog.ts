import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DatasetSummary, ModelSummary } from '../../src-main/api/types';
import { useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';

export const NORM_LABELS: Record<ModelSummary['norm'], string> = {
  kn: 'KernelNorm', bn: 'BatchNorm', gn: 'GroupNorm', ln: 'LayerNorm', nn: 'no norm',
};

/** What can be chosen in a sweep: models (from the registry, through the API), data sets, presets. */
export const useCatalogStore = defineStore('catalog', () => {
  const models = shallowRef<ModelSummary[]>([]);
  const datasets = shallowRef<DatasetSummary[]>([]);
  const presets = shallowRef<{ name: string; description: string }[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  let loaded = false;

  async function load(force = false): Promise<void> {
    if (loaded && !force) return;
    loading.value = true;
    error.value = null;
    try {
      const api = useApi();
      [models.value, datasets.value, presets.value] = await Promise.all([api.listModels(), api.listDatasets(), api.listPresets()]);
      loaded = true;
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      loading.value = false;
    }
  }

  const modelsByName = computed(() => new Map(models.value.map((m) => [m.name, m])));
  const families = computed(() => [...new Set(models.value.map((m) => m.family))]);

  return { models, datasets, presets, loading, error, load, modelsByName, families };
});
