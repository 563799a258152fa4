/**
 * Collects live events and hands them on in batches, so a sweep of hundreds of runs streaming progress does
 * not become hundreds of messages (and re-renders) per second. Progress-like events are coalesced: only the
 * newest one per key survives a batch, because the UI only ever shows the newest.
 */
export interface LiveBatcherOptions<T> {
  intervalMs?: number;
  /** Events with the same non-null key replace each other within a batch (e.g. `progress:<runId>`). */
  coalesceKey?: (event: T) => string | null;
  flush: (events: T[]) => void;
}

export class LiveBatcher<T> {
  private pending: T[] = [];
  private coalesced = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LiveBatcherOptions<T>) {}

  push(event: T): void {
    const key = this.opts.coalesceKey?.(event) ?? null;
    const at = key === null ? undefined : this.coalesced.get(key);
    if (at !== undefined) this.pending[at] = event;
    else {
      if (key !== null) this.coalesced.set(key, this.pending.length);
      this.pending.push(event);
    }
    this.timer ??= setTimeout(() => this.flushNow(), this.opts.intervalMs ?? 250);
  }

  flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.coalesced.clear();
    this.opts.flush(batch);
  }

  close(): void {
    this.flushNow();
  }
}
