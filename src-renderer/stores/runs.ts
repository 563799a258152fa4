import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DeviceInfo } from '../../src-main/api/run-controller';
import type { RunRecord, RunStatus, SweepSummary } from '../../src-main/store/types';
import { useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { useLiveStore } from './live';

export const PAGE_SIZE = 50;

/**
 * The queue: one page of runs at a time (a sweep may have thousands), the sweeps for the filter, the devices
 * and the pause state. Live events mark the page stale and it is re-read at most every `refreshMs`, so a
 * burst of run starts and ends becomes one request.
 */
export const useRunsStore = defineStore('runs', () => {
  const runs = shallowRef<RunRecord[]>([]);
  const total = ref(0);
  const sweeps = shallowRef<SweepSummary[]>([]);
  const devices = shallowRef<DeviceInfo[]>([]);
  const paused = ref<boolean | null>(null);
  const hasScheduler = ref(false);
  const page = ref(0);
  const statusFilter = ref<RunStatus[]>([]);
  const sweepFilter = ref<number | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const actionError = ref<string | null>(null);
  const refreshMs = 1000;
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  let stopListening: (() => void) | null = null;

  const pages = computed(() => Math.max(1, Math.ceil(total.value / PAGE_SIZE)));

  function filter() {
    return {
      sweepId: sweepFilter.value ?? undefined,
      status: statusFilter.value.length ? [...statusFilter.value] : undefined,
    };
  }

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      const api = useApi();
      const f = filter();
      const [count, list, sweepList, queue] = await Promise.all([
        api.countRuns(f),
        api.listRuns({ ...f, limit: PAGE_SIZE, offset: page.value * PAGE_SIZE }),
        api.listSweeps(),
        api.queueState(),
      ]);
      total.value = count;
      runs.value = list;
      sweeps.value = sweepList;
      paused.value = queue.paused;
      hasScheduler.value = queue.hasScheduler;
      if (page.value > 0 && page.value >= pages.value) {
        page.value = pages.value - 1;
        return load();
      }
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      loading.value = false;
    }
  }

  async function loadDevices(): Promise<void> {
    try {
      devices.value = await useApi().devices();
    } catch (err) {
      actionError.value = errorMessage(err);
    }
  }

  function scheduleRefresh(): void {
    refreshTimer ??= setTimeout(() => {
      refreshTimer = null;
      void load();
      void loadDevices();
    }, refreshMs);
  }

  /** Re-reads the page whenever runs start, end or the queue changes; progress alone is shown from the live store. */
  function follow(): () => void {
    stopListening ??= useLiveStore().listen((events) => {
      if (events.some((e) => e.type === 'run_started' || e.type === 'run_ended' || e.type === 'queue_changed')) scheduleRefresh();
    });
    return () => {
      stopListening?.();
      stopListening = null;
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = null;
    };
  }

  async function act(what: string, fn: () => Promise<unknown>): Promise<void> {
    actionError.value = null;
    try {
      await fn();
      await load();
    } catch (err) {
      actionError.value = `${what}: ${errorMessage(err)}`;
    }
  }

  const cancel = (id: number) => act(`cancel run ${id}`, () => useApi().cancel(id));
  const retry = (id: number) => act(`retry run ${id}`, () => useApi().retry(id));
  const pause = () => act('pause the queue', () => useApi().pause());
  const resume = () => act('resume the queue', () => useApi().resume());

  function setPage(p: number): Promise<void> {
    page.value = Math.min(Math.max(0, p), pages.value - 1);
    return load();
  }

  function setFilter(next: { status?: RunStatus[]; sweepId?: number | null }): Promise<void> {
    if (next.status) statusFilter.value = next.status;
    if (next.sweepId !== undefined) sweepFilter.value = next.sweepId;
    page.value = 0;
    return load();
  }

  return {
    runs, total, sweeps, devices, paused, hasScheduler, page, pages, statusFilter, sweepFilter, loading, error, actionError,
    load, loadDevices, follow, cancel, retry, pause, resume, setPage, setFilter,
  };
});
