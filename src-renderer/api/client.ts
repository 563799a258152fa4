import { reactive } from 'vue';
import { isErrorCode, type ErrorCode } from '../../src-main/api/errors';
import { API_METHODS, apiRoutes, fillPath, type ApiArgs, type ApiMethod, type ApiResult } from '../../src-main/server/routes';
import type { LiveEvent } from '../../src-main/server/live-events';
import type { IpcReply } from '../../src-main/electron/bridge';
import type { ElectronBridge } from '../../src-main/electron/preload';

/**
 * The typed API as the renderer sees it: the same methods and arguments as the service (src-main/api), over
 * Electron IPC (window.normlab, from the preload) or over HTTP + WebSocket when opened from `normlab serve`.
 */
export type ApiMethods = { [K in ApiMethod]: (...args: ApiArgs<K>) => Promise<ApiResult<K>> };

export type CsvKind = 'runs' | 'aggregates' | 'metrics';
export interface CsvFilter {
  sweepId?: number;
  model?: string;
  dataset?: string;
}

export interface NormLabClient extends ApiMethods {
  readonly transport: 'electron' | 'http';
  /** Batches of live events; returns the unsubscribe function. */
  onLive(listener: (events: LiveEvent[]) => void): () => void;
  /** Electron: a save dialog, written by the main process. Browser: a download. Resolves false when cancelled. */
  saveCsv(kind: CsvKind, filter: CsvFilter): Promise<boolean>;
  /** A native folder picker (Electron only; null in a browser, where the path is typed in). */
  chooseFolder: ((title: string) => Promise<string | null>) | null;
}

/**
 * What the API said went wrong, with its code (of the one taxonomy, src-main/api/errors.ts) and every problem
 * (e.g. each invalid field of a sweep spec).
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  constructor(
    code: string,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    // a server newer than this page may send a code it does not know: treat it as unexpected
    this.code = isErrorCode(code) ? code : 'internal';
  }
}

/** Live-connection state for the banner: the UI says when it is not receiving updates. */
export const connection = reactive({ state: 'connecting', detail: '' });

declare global {
  interface Window {
    normlab?: ElectronBridge;
  }
}

function unwrap<T>(reply: IpcReply<T>): T {
  if (reply.ok) return reply.value;
  throw new ApiError(reply.error.code, reply.error.message, reply.error.problems);
}

/** One function per method of the table (routes.ts), each sending its name and arguments through `call`. */
function methodsOver(call: (method: ApiMethod, args: unknown[]) => Promise<unknown>): ApiMethods {
  const methods: Partial<Record<ApiMethod, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const name of API_METHODS) methods[name] = (...args) => call(name, args);
  return methods as ApiMethods;
}

export function electronClient(bridge: ElectronBridge): NormLabClient {
  connection.state = 'open';
  return {
    ...methodsOver(async (method, args) => unwrap(await bridge.call(method, args))),
    transport: 'electron',
    onLive: (listener) => bridge.onLive((events) => listener(events as LiveEvent[])),
    async saveCsv(kind, filter) {
      const result = unwrap(await bridge.saveCsv(kind, filter, `normlab-${kind}${filter.sweepId ? `-sweep${filter.sweepId}` : ''}.csv`));
      return result !== null;
    },
    chooseFolder: (title) => bridge.chooseFolder(title),
  };
}

function toQuery(rest: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined || v === null || v === '') continue;
    // arrays (ids, statuses) travel comma-separated; anything else non-scalar as JSON, never as "[object Object]"
    params.set(k, Array.isArray(v) ? v.join(',') : typeof v === 'string' ? v : JSON.stringify(v));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Over `normlab serve`: the token cookie rides along on every same-origin request and on the WebSocket. */
export function httpClient(base: string = location.origin): NormLabClient {
  async function call(method: ApiMethod, args: unknown[]): Promise<unknown> {
    const def = apiRoutes[method];
    const input = (def.fromArgs as (...a: unknown[]) => Record<string, unknown>)(...args);
    const { path, rest } = fillPath(def.path, input);
    const isGet = def.verb === 'GET';
    let res: Response;
    try {
      res = await fetch(`${base}${path}${isGet ? toQuery(rest) : ''}`, {
        method: def.verb,
        credentials: 'same-origin',
        headers: isGet ? {} : { 'Content-Type': 'application/json' },
        body: isGet ? undefined : JSON.stringify(rest),
      });
    } catch {
      throw new ApiError('unavailable', 'cannot reach the NormLab server: is `normlab serve` still running?');
    }
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string; problems?: string[] } } | null;
    if (!res.ok) {
      if (res.status === 401) throw new ApiError('unauthorized', 'not signed in: open the URL with ?token=… that `normlab serve` printed');
      const e = body?.error;
      throw new ApiError(e?.code ?? 'internal', e?.message ?? `HTTP ${res.status}`, e?.problems ?? []);
    }
    return body;
  }

  const listeners = new Set<(events: LiveEvent[]) => void>();
  let socket: WebSocket | null = null;
  let retryMs = 500;
  function connect(): void {
    const url = `${base.replace(/^http/, 'ws')}/api/live`;
    connection.state = 'connecting';
    socket = new WebSocket(url);
    socket.onopen = () => {
      connection.state = 'open';
      connection.detail = '';
      retryMs = 500;
    };
    socket.onmessage = (msg) => {
      const data = JSON.parse(String(msg.data)) as { type: string; events?: LiveEvent[] };
      if (data.type === 'batch' && data.events) for (const l of listeners) l(data.events);
    };
    socket.onclose = () => {
      connection.state = 'closed';
      connection.detail = `live updates lost; reconnecting in ${Math.round(retryMs / 1000)} s`;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15_000);
    };
  }

  return {
    ...methodsOver(call),
    transport: 'http',
    onLive(listener) {
      listeners.add(listener);
      if (!socket) connect();
      return () => listeners.delete(listener);
    },
    async saveCsv(kind, filter) {
      const a = document.createElement('a');
      a.href = `${base}/api/export/${kind}.csv${toQuery({ ...filter })}`;
      a.download = `normlab-${kind}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      return true;
    },
    chooseFolder: null,
  };
}

let current: NormLabClient | null = null;

/** The client for this window; tests install their own with setClient. */
export function useApi(): NormLabClient {
  current ??= window.normlab ? electronClient(window.normlab) : httpClient();
  return current;
}

export function setClient(client: NormLabClient | null): void {
  current = client;
}
