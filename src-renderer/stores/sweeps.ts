import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { SubmitSweepResult } from '../../src-main/api/service';
import type { SweepPreview } from '../../src-main/server/ui-extras';
import { ApiError, useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { buildSweepSpec, defaultSweepForm, type SweepForm } from '../lib/sweep-form';

/**
 * The sweep being built: its form, the spec it makes, the server's preview of that spec (debounced, the real
 * schema and run count), and submitting it.
 */
export const useSweepsStore = defineStore('sweeps', () => {
  const form = ref<SweepForm>(defaultSweepForm());
  const local = computed(() => buildSweepSpec(form.value));
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
      return submitted.value;
    } catch (err) {
      submitError.value = errorMessage(err);
      if (err instanceof ApiError) submitProblems.value = err.problems;
      return null;
    } finally {
      submitting.value = false;
    }
  }

  function reset(): void {
    form.value = defaultSweepForm();
    submitted.value = null;
    preview.value = null;
    attempted.value = false;
  }

  return {
    form, local, visibleErrors, attempted, preview, previewing, previewError, submitting, submitError, submitProblems, submitted, canSubmit,
    refreshPreview, schedulePreview, submit, reset,
  };
});
