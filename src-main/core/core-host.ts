import { ServiceError } from '../api/errors';
import { parseExportFilter } from '../api/inputs';
import { openAppBackend, type AppBackend } from '../server/app-backend';
import { dispatchArgs, toErrorBody, type ApiErrorBody } from '../server/dispatch';
import { LiveBatcher } from '../server/live-batcher';
import { liveCoalesceKey, type LiveEvent } from '../server/live-events';
import type { ParentLink } from './parent-link';
import { toCoreSchema, type CoreOpenOptions, type FromCore, type ToCore } from './protocol';

const DEFAULT_LIVE_INTERVAL_MS = 250;

type CoreState =
  | { phase: 'new' }
  | { phase: 'opening' }
  | { phase: 'open'; backend: AppBackend; stopLive: () => void }
  | { phase: 'closing' };

export interface CoreHostOptions {
  /** Called once the backend is closed after a shutdown (or a lost host); the entry exits the process. */
  onClosed: (exitCode: number) => void;
  log: (message: string) => void;
}

function describeMessage(message: unknown): string {
  if (typeof message !== 'object' || message === null) return typeof message;
  const type: unknown = Reflect.get(message, 'type');
  return typeof type === 'string' ? `"${type}"` : 'without a type';
}

/**
 * The core's message handling: opens the backend when asked, answers calls through the same dispatch (and edge
 * validation) `normlab serve` uses, pushes live events in batches, and closes the backend on shutdown.
 */
export class CoreHost {
  private state: CoreState = { phase: 'new' };
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private exitCode = 0;

  constructor(
    private readonly link: ParentLink,
    private readonly opts: CoreHostOptions,
  ) {}

  /** Starts listening to the host; a host that goes away counts as a shutdown that interrupts running workers. */
  listen(): void {
    this.link.onMessage((message) => this.receive(message));
    this.link.onDisconnect(() => {
      this.opts.log('the host process went away: interrupting running workers and exiting');
      void this.shutdown(true);
    });
  }

  private receive(raw: unknown): void {
    const parsed = toCoreSchema.safeParse(raw);
    if (!parsed.success) {
      // without a valid id there is no call to answer; say so where a developer will look
      const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(message)'}: ${i.message}`);
      this.opts.log(`ignored a malformed message ${describeMessage(raw)} from the host: ${problems.join('; ')}`);
      return;
    }
    const message: ToCore = parsed.data;
    switch (message.type) {
      case 'open':
        if (this.opening) this.refuseSecondOpen();
        else this.opening = this.open(message.options);
        return;
      case 'call':
        void this.answer(message.id, (backend) => dispatchArgs(backend.api, message.method, message.args));
        return;
      case 'exportCsvToFile':
        // the service's own check of a filter, as the call route gets it from the edge schema
        void this.answer(message.id, (backend) => backend.api.exportCsv(message.what, parseExportFilter(message.filter), message.outPath));
        return;
      case 'shutdown':
        void this.shutdown(message.interruptRunning);
        return;
    }
  }

  private send(message: FromCore): void {
    try {
      this.link.send(message);
    } catch (error) {
      // a value that cannot be cloned must still answer its call, or the host would wait for ever
      if (message.type !== 'reply') throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.link.send({ type: 'reply', id: message.id, ok: false, error: { code: 'internal', message: `the reply could not be sent to the host: ${reason}`, problems: [] } });
    }
  }

  private refuseSecondOpen(): void {
    const error: ApiErrorBody = { code: 'conflict', message: 'the NormLab core is already open (or opening): open it only once', problems: [] };
    this.send({ type: 'open_failed', error });
  }

  private async open(options: CoreOpenOptions): Promise<void> {
    this.state = { phase: 'opening' };
    const { liveIntervalMs, ...backendOptions } = options;
    let backend: AppBackend;
    try {
      backend = await openAppBackend({ ...backendOptions, log: this.opts.log });
    } catch (error) {
      this.send({ type: 'open_failed', error: toErrorBody(error) });
      // a core without a backend has nothing to offer: it ends, and says so by its exit code
      this.exitCode = 1;
      void this.shutdown(false);
      return;
    }
    const batcher = new LiveBatcher<LiveEvent>({
      intervalMs: liveIntervalMs ?? DEFAULT_LIVE_INTERVAL_MS,
      coalesceKey: liveCoalesceKey,
      flush: (events) => this.send({ type: 'live', events }),
    });
    const unsubscribe = backend.live.subscribe((event) => batcher.push(event));
    this.state = {
      phase: 'open',
      backend,
      stopLive: () => {
        unsubscribe();
        batcher.close();
      },
    };
    this.send({ type: 'opened', pid: process.pid, readOnly: backend.readOnly, dataDir: backend.dataDir });
  }

  private async answer(id: number, work: (backend: AppBackend) => Promise<unknown>): Promise<void> {
    const { state } = this;
    if (state.phase !== 'open') {
      const why = state.phase === 'closing' ? 'is shutting down' : 'has not been opened yet (send "open" first)';
      this.send({ type: 'reply', id, ok: false, error: toErrorBody(new ServiceError('unavailable', `the NormLab core ${why}`)) });
      return;
    }
    try {
      this.send({ type: 'reply', id, ok: true, value: await work(state.backend) });
    } catch (error) {
      this.send({ type: 'reply', id, ok: false, error: toErrorBody(error) });
    }
  }

  /** Closes the backend once, however often it is asked (a shutdown message and a lost host may both come). */
  shutdown(interruptRunning: boolean): Promise<void> {
    this.closing ??= this.close(interruptRunning);
    return this.closing;
  }

  private async close(interruptRunning: boolean): Promise<void> {
    // a shutdown during the open waits for it, so the backend it opens is closed rather than left behind
    await this.opening;
    const { state } = this;
    this.state = { phase: 'closing' };
    if (state.phase === 'open') {
      try {
        await state.backend.close({ interruptRunning });
      } catch (error) {
        this.opts.log(`closing the store and scheduler failed: ${error instanceof Error ? error.message : String(error)}`);
        this.exitCode = 1;
      }
      // only now: the workers' last words (their checkpoint, `done` interrupted) come while the backend closes
      state.stopLive();
    }
    await this.link.drain();
    this.opts.onClosed(this.exitCode);
  }
}
