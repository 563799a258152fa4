import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DeviceInfo } from '../../src-main/api/run-controller';
import type { RetryChanges } from '../../src-main/api/schemas';
import type { QueueState, ScheduledBy } from '../../src-main/api/types';
import type { RunRecord, RunStatus, SweepSummary } from '../../src-main/store/types';
import { useApi } from '../api/client';
import { errorMessage } from '../composables/useAsync';
import { useLiveStore } from './live';
import { isStepMetricKey } from '../../src-worker/protocol';

export const PAGE_SIZE = 50;
/** How often pages re-read the store while another process trains the runs (no live events reach this server). */
export const STORE_POLL_MS = 2000;
/** Sweeps whose progress panel the runs view shows when no sweep is picked: the active ones, at most this many. */
export const PROGRESS_SWEEPS = 3;
/** A sweep's progress reads all its runs; beyond this many it reads the first ones and says so. */
export const PROGRESS_RUN_LIMIT = 5000;

/**
 * The queue: one page of runs at a time (a sweep may have thousands), the sweeps for the filter, the devices
 * and the pause state. Live events mark the page stale and it is re-read at most every `refreshMs`, so a
 * burst of run starts and ends becomes one request. When this server does not schedule the store's runs
 * (another process holds the lease, or nobody does), no live events come, so the page is re-read every
 * `STORE_POLL_MS` instead.
 */
export const useRunsStore = defineStore('runs', () => {
  const runs = shallowRef<RunRecord[]>([]);
  const total = ref(0);
  const sweeps = shallowRef<SweepSummary[]>([]);
  const devices = shallowRef<DeviceInfo[]>([]);
  const paused = ref<boolean | null>(null);
  const hasScheduler = ref(false);
  /** Who holds the store's scheduling lease; null when nobody does. */
  const scheduledBy = ref<ScheduledBy | null>(null);
  /**
   * Epochs a running run has finished, from its stored per-epoch metrics: what the page shows instead of live
   * progress while another process trains it (a run's record only counts its epochs once it ends).
   */
  const storedEpochs = shallowRef(new Map<number, number>());
  /** All runs of the sweeps whose progress is shown (the picked sweep, else the active ones), by sweep id. */
  const progressRuns = shallowRef(new Map<number, RunRecord[]>());
  /** Whether the queue state has been read at least once (before that nothing is claimed about who schedules). */
  const queueKnown = ref(false);
  const page = ref(0);
  const statusFilter = ref<RunStatus[]>([]);
  const sweepFilter = ref<number | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const actionError = ref<string | null>(null);
  const refreshMs = 1000;
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let stopListening: (() => void) | null = null;

  /** This server's own scheduler places the runs: its workers' live events arrive here. */
  const schedulesHere = computed(() => scheduledBy.value?.self === true);
  /** Live events will not tell about changes, so pages re-read the store on a timer. */
  const pollsStore = computed(() => queueKnown.value && !schedulesHere.value);
  /** Pause and resume act on this server's scheduler, which only decides anything while it holds the lease. */
  const queueControl = computed<{ enabled: boolean; reason: string | null }>(() => {
    if (!hasScheduler.value) return { enabled: false, reason: 'this server has no scheduler (started with --no-scheduler)' };
    if (schedulesHere.value) return { enabled: true, reason: null };
    const by = scheduledBy.value;
    return {
      enabled: false,
      reason: by ? `pid ${by.pid} on ${by.host} places the runs; pause or stop that process instead` : 'this server is waiting to take over scheduling',
    };
  });

  function applyQueue(queue: QueueState): void {
    paused.value = queue.paused;
    hasScheduler.value = queue.hasScheduler;
    scheduledBy.value = queue.scheduledBy;
    queueKnown.value = true;
  }

  /** Re-reads who schedules the store alone (the run page uses it to decide whether to poll). */
  async function loadQueue(): Promise<void> {
    try {
      applyQueue(await useApi().queueState());
    } catch {
      // the next read retries; the page keeps what it last knew
    }
  }

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
      applyQueue(queue);
      const progressIds = progressSweepIds(sweepList);
      const [epochsRead, sweepRunLists] = await Promise.all([
        pollsStore.value ? readStoredEpochs(list) : Promise.resolve(new Map<number, number>()),
        Promise.all(progressIds.map((id) => api.listRuns({ sweepId: id, limit: PROGRESS_RUN_LIMIT }))),
      ]);
      progressRuns.value = new Map(progressIds.map((id, i) => [id, sweepRunLists[i]]));
      if (pollsStore.value) {
        // the running runs of the progress panels are read from the store as well
        const more = await readStoredEpochs(sweepRunLists.flat().filter((r) => !epochsRead.has(r.id)));
        for (const [id, n] of more) epochsRead.set(id, n);
      }
      storedEpochs.value = epochsRead;
      if (page.value > 0 && page.value >= pages.value) {
        page.value = pages.value - 1;
        return await load();
      }
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      loading.value = false;
    }
  }

  function progressSweepIds(list: SweepSummary[]): number[] {
    if (sweepFilter.value !== null) return list.some((s) => s.id === sweepFilter.value) ? [sweepFilter.value] : [];
    const active = (s: SweepSummary) => (s.runCounts.queued ?? 0) + (s.runCounts.running ?? 0) + (s.runCounts.interrupted ?? 0) > 0;
    return list.filter(active).slice(0, PROGRESS_SWEEPS).map((s) => s.id);
  }

  async function readStoredEpochs(list: RunRecord[]): Promise<Map<number, number>> {
    const api = useApi();
    const running = list.filter((r) => r.status === 'running');
    const details = await Promise.all(running.map((r) => api.getRun(r.id).catch(() => null)));
    const epochs = new Map<number, number>();
    for (const d of details) {
      // the newest epoch any per-epoch metric reached (step-level keys count optimizer steps)
      if (d) epochs.set(d.run.id, Math.max(0, ...Object.values(d.latestMetrics).filter((m) => !isStepMetricKey(m.key)).map((m) => m.step)));
    }
    return epochs;
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

  /**
   * Re-reads the page whenever runs start, end or the queue changes; progress alone is shown from the live store.
   * While another process schedules, re-reads it every `STORE_POLL_MS` as well.
   */
  function follow(): () => void {
    stopListening ??= useLiveStore().listen((events) => {
      if (events.some((e) => e.type === 'run_started' || e.type === 'run_ended' || e.type === 'queue_changed')) scheduleRefresh();
    });
    pollTimer ??= setInterval(() => {
      if (pollsStore.value && !loading.value) void load();
    }, STORE_POLL_MS);
    return () => {
      stopListening?.();
      stopListening = null;
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = null;
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = null;
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

  /**
   * Retry with edited fields ("clone and edit"): the server queues a new run with them, or requeues the run when
   * nothing changed. A refusal is returned, not put in `actionError`: the dialog that asked shows it itself.
   */
  async function retryWith(id: number, changes: RetryChanges): Promise<{ run: RunRecord } | { error: string }> {
    try {
      const run = await useApi().retry(id, changes);
      await load();
      return { run };
    } catch (err) {
      return { error: `retry run ${id}: ${errorMessage(err)}` };
    }
  }
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
    runs, total, sweeps, progressRuns, devices, paused, hasScheduler, scheduledBy, queueKnown, storedEpochs, schedulesHere, pollsStore, queueControl,
    page, pages, statusFilter, sweepFilter, loading, error, actionError,
    load, loadQueue, loadDevices, follow, cancel, retry, retryWith, pause, resume, setPage, setFilter,
  };
});
