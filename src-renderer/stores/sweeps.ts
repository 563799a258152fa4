import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { SubmitSweepResult } from '../../src-main/api/service';
import type { SweepPreview } from '../../src-main/api/types';
import { ApiError, useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { buildSweepSpec, defaultSweepForm, dpRefusal, type ModelKinds, type SweepForm } from '../lib/sweep-form';
import { useCatalogStore } from './catalog';

/**
 * The sweep being built: its form, the spec it makes, the server's preview of that spec (debounced, the real
 * schema and run count), and submitting it.
 */
/** Estimates the builder showed when a sweep was queued, by sweep id: the runs view sets them beside what it took. */
export const ESTIMATES_STORAGE_KEY = 'normlab.sweeps.estimates';

function readEstimates(): Record<string, number> {
  try {
    const parsed: unknown = JSON.parse(globalThis.localStorage?.getItem(ESTIMATES_STORAGE_KEY) ?? '{}');
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/** The first problem about `base.dataDir` (or a grid entry of it), with that path taken off. */
export function dataDirProblem(problems: readonly string[]): string | null {
  for (const p of problems) {
    const m = /^(?:base\.dataDir|grid\.dataDir\[\d+\]): (.*)$/s.exec(p);
    if (m) return m[1];
  }
  return null;
}

export const useSweepsStore = defineStore('sweeps', () => {
  const form = ref<SweepForm>(defaultSweepForm());
  const catalog = useCatalogStore();
  const modelNorms = computed(() => new Map(catalog.models.map((m) => [m.name, m.norm])));
  /** What each model is (normalization, family): which builder fields apply to the selection. */
  const modelKinds = computed<ModelKinds>(() => new Map(catalog.models.map((m) => [m.name, { norm: m.norm, family: m.family }])));
  const local = computed(() => buildSweepSpec(form.value, { modelNorms: modelNorms.value, modelKinds: modelKinds.value }));
  /** Models DP-SGD cannot train, with the reason, while DP is on (the picker greys them out). */
  const dpBlockedModels = computed<Record<string, string>>(() => {
    if (!form.value.dp.enabled) return {};
    return Object.fromEntries(catalog.models.flatMap((m) => {
      const reason = dpRefusal(m.name, m.norm);
      return reason ? [[m.name, reason]] : [];
    }));
  });
  // turning DP on drops the models it cannot train rather than leaving the form in error
  watch(() => form.value.dp.enabled, (on) => {
    if (on) form.value.models = form.value.models.filter((m) => !(m in dpBlockedModels.value));
  });
  const preview = shallowRef<SweepPreview | null>(null);
  const previewing = ref(false);
  const previewError = ref<string | null>(null);
  const submitting = ref(false);
  const submitError = ref<string | null>(null);
  const submitProblems = ref<string[]>([]);
  const submitted = shallowRef<SubmitSweepResult | null>(null);
  /** Errors show once the user has changed something or tried to submit, not on a fresh form. */
  const attempted = ref(false);
  const dirty = computed(() => JSON.stringify(form.value) !== JSON.stringify(defaultSweepForm()));
  const visibleErrors = computed(() => (attempted.value || dirty.value ? local.value.errors : {}));
  const previewDelayMs = 250;
  const pendingRetryMs = 3000;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let generation = 0;

  async function refreshPreview(): Promise<void> {
    const spec = local.value.spec;
    const mine = ++generation;
    if (!spec) {
      preview.value = null;
      return;
    }
    previewing.value = true;
    try {
      const result = await useApi().previewSweep(spec);
      if (mine === generation) {
        preview.value = result;
        previewError.value = null;
        // the server is timing this machine for the estimate: ask again once it has a figure
        if (result.ok && result.estimatePending) setTimeout(() => mine === generation && void refreshPreview(), pendingRetryMs);
      }
    } catch (err) {
      if (mine === generation) previewError.value = errorMessage(err);
    } finally {
      if (mine === generation) previewing.value = false;
    }
  }

  function schedulePreview(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void refreshPreview();
    }, previewDelayMs);
  }

  watch(() => local.value.spec, schedulePreview, { deep: true });

  /**
   * The server's word on the data folder (submit-checks: missing, incomplete), from the preview or a refused
   * submit, without the spec path: the builder shows it at the data-folder field rather than only in a list.
   */
  const serverDataDirError = computed<string | null>(() => {
    const problems = [...(preview.value && !preview.value.ok ? preview.value.problems : []), ...submitProblems.value];
    return dataDirProblem(problems);
  });

  const canSubmit = computed(
    () => local.value.spec !== null && preview.value?.ok === true && !submitting.value && !previewing.value,
  );

  async function submit(): Promise<SubmitSweepResult | null> {
    attempted.value = true;
    const spec = local.value.spec;
    if (!spec) return null;
    submitting.value = true;
    submitError.value = null;
    submitProblems.value = [];
    try {
      submitted.value = await useApi().submitSweep(spec);
      rememberEstimate(submitted.value.sweepId, preview.value?.ok ? preview.value.estimateSec : null);
      return submitted.value;
    } catch (err) {
      submitError.value = errorMessage(err);
      if (err instanceof ApiError) submitProblems.value = err.problems;
      return null;
    } finally {
      submitting.value = false;
    }
  }

  function rememberEstimate(sweepId: number, estimateSec: number | null): void {
    if (estimateSec === null) return;
    try {
      globalThis.localStorage?.setItem(ESTIMATES_STORAGE_KEY, JSON.stringify({ ...readEstimates(), [sweepId]: estimateSec }));
    } catch {
      // storage disabled: the runs view just shows no estimate beside the time taken
    }
  }

  /** The estimate shown when the sweep was queued from this browser; null when unknown. */
  function estimateAtSubmit(sweepId: number): number | null {
    const value = readEstimates()[String(sweepId)];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  }

  function reset(): void {
    form.value = defaultSweepForm();
    submitted.value = null;
    preview.value = null;
    attempted.value = false;
  }

  return {
    form, local, modelKinds, serverDataDirError, dpBlockedModels, visibleErrors, attempted, preview, previewing, previewError, submitting, submitError, submitProblems, submitted, canSubmit,
    refreshPreview, schedulePreview, submit, reset, estimateAtSubmit,
  };
});
