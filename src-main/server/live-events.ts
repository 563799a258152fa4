import type { RunStatus, WorkerEvent } from '../../src-worker/protocol';

/**
 * What the UI hears about while it is open. Plain data, the same over Electron IPC and the WebSocket.
 * `norm_stats` payloads are large (histograms for every layer), so only their arrival is announced; the
 * kernel-statistics view fetches what it shows.
 */
export type LiveEvent =
  | { type: 'worker'; runId: number; event: Exclude<WorkerEvent, { event: 'norm_stats' }> }
  | { type: 'norm_stats'; runId: number; epoch: number; step: number; layers: number }
  | { type: 'run_started'; runId: number; device: string }
  | { type: 'run_ended'; runId: number; status?: RunStatus }
  | { type: 'queue_changed' }
  | { type: 'download'; dataset: string; phase: 'download' | 'verify' | 'extract' | 'done' | 'error'; receivedBytes: number; totalBytes?: number; message?: string };

/** Where live events come from; a store-only backend has a source that never emits. */
export interface LiveSource {
  subscribe(listener: (event: LiveEvent) => void): () => void;
}

/** Coalescing key for LiveBatcher: only the newest progress report of a run matters to a screen. */
export function liveCoalesceKey(e: LiveEvent): string | null {
  if (e.type === 'worker' && e.event.event === 'progress') return `progress:${e.runId}`;
  if (e.type === 'download') return `download:${e.dataset}`;
  if (e.type === 'queue_changed') return 'queue';
  return null;
}

export function toLiveEvent(runId: number, event: WorkerEvent): LiveEvent {
  if (event.event === 'norm_stats') {
    return { type: 'norm_stats', runId, epoch: event.epoch, step: event.step, layers: event.layers.length };
  }
  return { type: 'worker', runId, event };
}

/** A LiveSource that components can push into (scheduler hooks, downloads, submitted sweeps). */
export class LiveHub implements LiveSource {
  private readonly listeners = new Set<(event: LiveEvent) => void>();

  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one broken subscriber (a closed socket) must not starve the others
      }
    }
  }
}
