import type { ExportResult } from '../api/service';
import type { ApiErrorBody } from '../server/dispatch';
import type { LiveEvent } from '../server/live-events';
import type { ApiArgs, ApiMethod, ApiResult } from '../server/routes';
import type { CoreChannel, CoreExit } from './core-channel';
import { isFromCore, type CoreOpenOptions, type CoreOpened, type FromCore, type ToCore } from './protocol';

/** A call the core answered with an error, or could not answer: the same body HTTP and IPC clients get. */
export class CoreCallError extends Error {
  override name = 'CoreCallError';
  constructor(readonly body: ApiErrorBody) {
    super(body.message);
  }
  get code(): ApiErrorBody['code'] {
    return this.body.code;
  }
}

/** How the core process ended, as the host saw it. */
export interface CoreEnd extends CoreExit {
  /** True when the host asked for it (shutdown or kill); false when the core died on its own. */
  expected: boolean;
  /** A sentence for a dialog or log: who exited, how, and its last words on stderr. */
  message: string;
}

interface PendingCall {
  what: string;
  resolve(value: unknown): void;
  reject(error: CoreCallError): void;
}

function describeExit(pid: number | undefined, exit: CoreExit): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`;
  const tail = exit.stderrTail.trim();
  return `the NormLab core process${pid === undefined ? '' : ` (pid ${pid})`} ${how}${tail ? `; its last output:\n${tail}` : ''}`;
}

/**
 * The host's side of the core process: calls by method name that resolve with the service's value or reject
 * with its error body, live event batches, and an orderly shutdown. Works the same over a Node child
 * (`forkNodeCore`) and an Electron utilityProcess: it only sees a CoreChannel. If the core dies, every call
 * waiting for an answer is rejected with a message that says so, and so is every later call.
 */
export class CoreClient {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly liveListeners = new Set<(events: LiveEvent[]) => void>();
  private readonly endListeners = new Set<(end: CoreEnd) => void>();
  private opening: { resolve(opened: CoreOpened): void; reject(error: CoreCallError): void } | null = null;
  private stopping = false;
  private end: CoreEnd | null = null;
  /** Resolves once the core process has exited, however it ended. */
  readonly ended: Promise<CoreEnd>;

  constructor(private readonly channel: CoreChannel) {
    let settle: (end: CoreEnd) => void = () => {};
    this.ended = new Promise((resolve) => (settle = resolve));
    channel.onMessage((message) => this.receive(message));
    channel.onExit((exit) => settle(this.exited(exit)));
  }

  get pid(): number | undefined {
    return this.channel.pid;
  }

  /** Opens the store (and, unless told otherwise, starts the scheduler) in the core; call once, first. */
  open(options: CoreOpenOptions): Promise<CoreOpened> {
    if (this.opening) return Promise.reject(new Error('CoreClient.open was called twice: open the core only once'));
    return new Promise<CoreOpened>((resolve, reject) => {
      this.opening = { resolve, reject };
      this.post({ type: 'open', options }, reject);
    });
  }

  /** A typed API call: the same methods and arguments as the service. */
  call<K extends ApiMethod>(method: K, ...args: ApiArgs<K>): Promise<ApiResult<K>> {
    return this.request(method, args) as Promise<ApiResult<K>>;
  }

  /**
   * A call as it came from an untrusted caller (the renderer): the method name and arguments are checked in
   * the core by the same dispatch HTTP uses, and come back as an `invalid_input` error when wrong.
   */
  request(method: unknown, args: unknown): Promise<unknown> {
    return this.send(typeof method === 'string' ? method : 'a call', (id) => ({ type: 'call', id, method, args }));
  }

  /** Writes a CSV export to a path the host chose (a save dialog): the rows never cross the channel. */
  exportCsvToFile(what: string, filter: unknown, outPath: string): Promise<ExportResult> {
    return this.send(`exportCsv to ${outPath}`, (id) => ({ type: 'exportCsvToFile', id, what, filter, outPath })) as Promise<ExportResult>;
  }

  onLive(listener: (events: LiveEvent[]) => void): () => void {
    this.liveListeners.add(listener);
    return () => this.liveListeners.delete(listener);
  }

  /** Called once when the core process ends, whether asked to or not (see CoreEnd.expected). */
  onEnd(listener: (end: CoreEnd) => void): () => void {
    if (this.end) {
      const end = this.end;
      queueMicrotask(() => listener(end));
      return () => {};
    }
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /**
   * Asks the core to close the store and scheduler and exit; with `interruptRunning` (the default) running
   * workers checkpoint and stop first, ending `interrupted` so they resume on the next start. A core that has
   * not exited after `timeoutMs` is killed.
   */
  async shutdown(opts: { interruptRunning?: boolean; timeoutMs?: number } = {}): Promise<CoreEnd> {
    if (this.end) return this.end;
    this.stopping = true;
    this.post({ type: 'shutdown', interruptRunning: opts.interruptRunning ?? true }, () => this.channel.kill());
    const timer = setTimeout(() => this.channel.kill(), opts.timeoutMs ?? 60_000);
    try {
      return await this.ended;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the core at once (SIGKILL for a Node child): no checkpoints, runs are recovered on the next start. */
  kill(): void {
    this.stopping = true;
    this.channel.kill();
  }

  private send(what: string, build: (id: number) => ToCore): Promise<unknown> {
    if (this.end) return Promise.reject(new CoreCallError(this.unavailable(`cannot run ${what}: ${this.end.message}`)));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { what, resolve, reject });
      this.post(build(id), (error) => {
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  private post(message: ToCore, onFailure: (error: CoreCallError) => void): void {
    try {
      this.channel.send(message);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      onFailure(new CoreCallError(this.unavailable(`could not send ${message.type} to the NormLab core process: ${reason}`)));
    }
  }

  private unavailable(message: string): ApiErrorBody {
    return { code: 'unavailable', message, problems: [] };
  }

  private receive(message: unknown): void {
    if (!isFromCore(message)) return;
    this.handle(message);
  }

  private handle(message: FromCore): void {
    switch (message.type) {
      case 'opened':
        this.opening?.resolve(message);
        return;
      case 'open_failed':
        this.opening?.reject(new CoreCallError(message.error));
        return;
      case 'live':
        for (const listener of this.liveListeners) listener(message.events);
        return;
      case 'reply': {
        const call = this.pending.get(message.id);
        if (!call) return;
        this.pending.delete(message.id);
        if (message.ok) call.resolve(message.value);
        else call.reject(new CoreCallError(message.error));
        return;
      }
    }
  }

  private exited(exit: CoreExit): CoreEnd {
    const expected = this.stopping;
    const end: CoreEnd = { ...exit, expected, message: describeExit(this.channel.pid, exit) };
    this.end = end;
    const reason = expected ? 'the NormLab core process shut down' : 'the NormLab core process stopped unexpectedly';
    this.opening?.reject(new CoreCallError(this.unavailable(`${reason} before it was open: ${end.message}`)));
    for (const call of this.pending.values()) {
      call.reject(new CoreCallError(this.unavailable(`${reason} before answering ${call.what}: ${end.message}`)));
    }
    this.pending.clear();
    for (const listener of this.endListeners) listener(end);
    this.endListeners.clear();
    return end;
  }
}
