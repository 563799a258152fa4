import { defineStore } from 'pinia';
import { shallowRef, triggerRef } from 'vue';
import type { LiveEvent } from '../../src-main/server/live-events';
import type { EpochMetrics } from '../../src-worker/protocol';
import { useApi } from '../api/client';

export interface LiveProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  imagesPerSec: number;
  etaSec: number;
  loss: number;
  /** When this report arrived, to tell a stalled run from a slow one. */
  at: number;
}

export interface DownloadState {
  phase: 'download' | 'verify' | 'extract' | 'done' | 'error';
  receivedBytes: number;
  totalBytes?: number;
  message?: string;
}

type Listener = (events: LiveEvent[]) => void;

/**
 * The one subscription to live events. Batches (already coalesced by the backend) are applied in one go and
 * the maps are shallow refs triggered once per batch, so hundreds of streaming runs cost one render per batch
 * rather than one per event.
 */
export const useLiveStore = defineStore('live', () => {
  const progress = shallowRef(new Map<number, LiveProgress>());
  const lastEpoch = shallowRef(new Map<number, { epoch: number; metrics: EpochMetrics }>());
  const devices = shallowRef(new Map<number, string>());
  const downloads = shallowRef(new Map<string, DownloadState>());
  const listeners = new Set<Listener>();
  let unsubscribe: (() => void) | null = null;

  function apply(events: LiveEvent[]): void {
    let touchedProgress = false;
    let touchedEpoch = false;
    let touchedDevices = false;
    let touchedDownloads = false;
    for (const e of events) {
      if (e.type === 'worker' && e.event.event === 'progress') {
        const { epoch, batch, batchesPerEpoch, imagesPerSec, etaSec, loss } = e.event;
        progress.value.set(e.runId, { epoch, batch, batchesPerEpoch, imagesPerSec, etaSec, loss, at: Date.now() });
        touchedProgress = true;
      } else if (e.type === 'worker' && e.event.event === 'epoch') {
        lastEpoch.value.set(e.runId, { epoch: e.event.epoch, metrics: e.event.metrics });
        touchedEpoch = true;
      } else if (e.type === 'run_started') {
        devices.value.set(e.runId, e.device);
        touchedDevices = true;
      } else if (e.type === 'run_ended') {
        touchedProgress = progress.value.delete(e.runId) || touchedProgress;
      } else if (e.type === 'download') {
        downloads.value.set(e.dataset, { phase: e.phase, receivedBytes: e.receivedBytes, totalBytes: e.totalBytes, message: e.message });
        touchedDownloads = true;
      }
    }
    if (touchedProgress) triggerRef(progress);
    if (touchedEpoch) triggerRef(lastEpoch);
    if (touchedDevices) triggerRef(devices);
    if (touchedDownloads) triggerRef(downloads);
    for (const l of listeners) l(events);
  }

  function start(): void {
    unsubscribe ??= useApi().onLive(apply);
  }

  /** Other stores hear about the same batches (e.g. to refresh the runs page when a run ends). */
  function listen(listener: Listener): () => void {
    start();
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = null;
  }

  return { progress, lastEpoch, devices, downloads, apply, start, listen, stop };
});
