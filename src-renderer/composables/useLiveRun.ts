import { computed, onUnmounted, ref, shallowRef, triggerRef, watch, type Ref } from 'vue';
import type { RunDetail } from '../../src-main/api/service';
import type { CheckpointRecord, LogRecord, MetricPoint } from '../../src-main/store/types';
import { useApi } from '../api/client';
import { useLiveStore } from '../stores/live';
import { STORE_POLL_MS, useRunsStore } from '../stores/runs';
import { errorMessage } from './useAsync';
import { STEP_METRIC_KEYS, type StepPoint } from '../../src-worker/protocol';

/**
 * One run, kept current: its record, metrics, logs and checkpoints are loaded once, then grown from live events
 * (an epoch appends a point, a `steps` event its step-level points, a log line or checkpoint triggers a small
 * incremental read), so an open run page costs nothing per progress tick. While another process schedules the
 * store (no live events reach this server), the whole run is re-read every `STORE_POLL_MS` instead.
 */
export function useLiveRun(id: Ref<number>) {
  const api = useApi();
  const live = useLiveStore();
  const detail = shallowRef<RunDetail | null>(null);
  const metrics = shallowRef<Record<string, MetricPoint[]>>({});
  const logs = shallowRef<LogRecord[]>([]);
  const checkpoints = shallowRef<CheckpointRecord[]>([]);
  const loading = ref(true);
  const error = ref<string | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      const runId = id.value;
      const [d, m, l, c] = await Promise.all([api.getRun(runId), api.getRunMetrics(runId), api.getRunLogs(runId, { limit: 500 }), api.getRunCheckpoints(runId)]);
      detail.value = d;
      metrics.value = m;
      logs.value = l;
      checkpoints.value = c;
    } catch (err) {
      error.value = errorMessage(err);
    } finally {
      loading.value = false;
    }
  }

  async function loadNewLogs(): Promise<void> {
    const afterId = logs.value.at(-1)?.id ?? 0;
    const more = await api.getRunLogs(id.value, { afterId });
    if (more.length) logs.value = [...logs.value, ...more];
  }

  /** A `steps` event's points into the step-level series; a point already there (a replayed epoch) replaces it. */
  function appendStepPoints(points: readonly StepPoint[]): void {
    const time = Date.now();
    const add = (key: string, step: number, value: number | undefined) => {
      if (value === undefined) return;
      const series = (metrics.value[key] ??= []);
      // points come in step order: only a replay needs the search
      const last = series.at(-1);
      const at = last && last.step >= step ? series.findIndex((p) => p.step === step) : -1;
      if (at >= 0) series[at] = { step, value, time };
      else series.push({ step, value, time });
    };
    for (const p of points) {
      add(STEP_METRIC_KEYS.trainLoss, p.step, p.train_loss);
      add(STEP_METRIC_KEYS.lr, p.step, p.lr);
    }
  }

  const stop = live.listen((events) => {
    let reload = false;
    let newLogs = false;
    let newCheckpoint = false;
    for (const e of events) {
      if (!('runId' in e) || e.runId !== id.value) continue;
      if (e.type === 'worker' && e.event.event === 'epoch') {
        const time = Date.now();
        const epoch = e.event.epoch;
        for (const [key, value] of Object.entries(e.event.metrics)) {
          if (typeof value !== 'number') continue;
          const series = (metrics.value[key] ??= []);
          if (!series.some((p) => p.step === epoch)) series.push({ step: epoch, value, time });
        }
        triggerRef(metrics);
      } else if (e.type === 'worker' && e.event.event === 'steps') {
        appendStepPoints(e.event.points);
        triggerRef(metrics);
      } else if (e.type === 'worker' && (e.event.event === 'log' || e.event.event === 'error')) newLogs = true;
      else if (e.type === 'worker' && e.event.event === 'checkpoint') newCheckpoint = true;
      else if (e.type === 'run_started' || e.type === 'run_ended') reload = true;
    }
    if (reload) void load();
    else {
      if (newLogs) void loadNewLogs().catch(() => {});
      if (newCheckpoint) void api.getRunCheckpoints(id.value).then((c) => (checkpoints.value = c)).catch(() => {});
    }
  });
  const runs = useRunsStore();
  void runs.loadQueue();
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    void runs
      .loadQueue()
      .then(() => (runs.pollsStore && !loading.value ? load() : undefined))
      .finally(() => (polling = false));
  }, STORE_POLL_MS);
  onUnmounted(() => {
    stop();
    clearInterval(poll);
  });
  watch(id, () => void load(), { immediate: true });

  const progress = computed(() => live.progress.get(id.value));
  return { detail, metrics, logs, checkpoints, progress, loading, error, reload: load };
}
