import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import { ReadOnlyError } from './app-api';
import { isAuthorized, tokenCookie, tokensEqual } from './auth';
import { httpStatusOf } from '../api/errors';
import type { NormLabApi } from '../api/service';
import { dispatch, stripUndefined, toErrorBody, type ApiErrorBody } from './dispatch';
import { LiveBatcher } from './live-batcher';
import { liveCoalesceKey, type LiveEvent, type LiveSource } from './live-events';
import { hostGuard, originProblem } from './request-guard';
import { apiRoutes, matchPath, type ApiMethod } from './routes';
import { securityHeaders, serveStatic } from './static-files';

export interface NormLabServerOptions {
  api: NormLabApi;
  live: LiveSource;
  token: string;
  /** The built renderer (index.html + assets). */
  staticDir: string;
  host?: string;
  /** More Host names to answer to than the loopback names and `host` (see hostGuard). */
  allowHosts?: readonly string[];
  port?: number;
  /** Refuse every route that changes something (405), saying this as the reason, e.g. "started with --no-scheduler". */
  readOnly?: string;
  /** Request bodies above this are refused (a sweep spec is a few kB). */
  maxBodyBytes?: number;
  liveIntervalMs?: number;
}

export interface RunningServer {
  server: Server;
  port: number;
  host: string;
  /** The address to open, with the token, as Jupyter prints it. */
  url: string;
  close(): Promise<void>;
}

export const LIVE_PATH = '/api/live';

// literal routes first, so `/api/runs/count` is not read as run id "count"
const ORDERED_ROUTES = (Object.keys(apiRoutes) as ApiMethod[]).sort(
  (a, b) => Number(apiRoutes[a].path.includes(':')) - Number(apiRoutes[b].path.includes(':')),
);

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

function sendError(res: ServerResponse, body: ApiErrorBody): void {
  sendJson(res, httpStatusOf(body.code), { error: body });
}

const forbidden = (message: string): ApiErrorBody => ({ code: 'forbidden', message, problems: [] });

/** Answers a WebSocket upgrade that is refused: a plain HTTP response, then the socket is closed. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body?: ApiErrorBody): void {
  const text = body ? JSON.stringify({ error: body }) : '';
  const type = body ? 'Content-Type: application/json; charset=utf-8\r\n' : '';
  const response = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${type}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
  socket.end(response, () => socket.destroy());
}

/** GET and HEAD read; every other method may change state, so it must pass the Origin check. */
const isStateChanging = (req: IncomingMessage) => req.method !== 'GET' && req.method !== 'HEAD';

class BodyTooLarge extends Error {}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(`request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError('request body is not valid JSON');
  }
}

function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

function csvFileName(what: string, query: Record<string, string>): string {
  const sweep = query.sweepId ? `-sweep${query.sweepId}` : '';
  return `normlab-${what}${sweep}.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * `normlab serve`: the built renderer and the API over HTTP, live events over a WebSocket. Every /api/ route
 * (the WebSocket too) needs the token, as a Bearer header or as the cookie that opening `/?token=…` sets.
 * Every request must name a known Host, and every write and the WebSocket must come from our own page or
 * carry a Bearer token (see request-guard.ts): the cookie alone does not say who is asking.
 */
export async function startNormLabServer(opts: NormLabServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const maxBody = opts.maxBodyBytes ?? 1_000_000;
  const hostProblem = hostGuard({ listenHost: host, allowHosts: opts.allowHosts });

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!isAuthorized(req, opts.token)) {
      sendError(res, { code: 'unauthorized', message: 'missing or wrong token: open the URL normlab serve printed, or send Authorization: Bearer <token>', problems: [] });
      return;
    }
    const crossOrigin = isStateChanging(req) ? originProblem(req, opts.token) : null;
    if (crossOrigin) {
      sendError(res, forbidden(crossOrigin));
      return;
    }
    // CSV as a file download for the browser's "Export" buttons
    const csv = /^\/api\/export\/([a-z]+)\.csv$/.exec(url.pathname);
    if (csv && req.method === 'GET') {
      const query = queryObject(url);
      const result = (await dispatch(opts.api, 'exportCsv', { ...query, what: csv[1] })) as { csv?: string };
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="${csvFileName(csv[1], query)}"`);
      res.setHeader('Cache-Control', 'no-store');
      res.end(result.csv ?? '');
      return;
    }
    let allowed: string | null = null;
    for (const method of ORDERED_ROUTES) {
      const def = apiRoutes[method];
      const params = matchPath(def.path, url.pathname);
      if (!params) continue;
      if (req.method !== def.verb) {
        allowed = def.verb;
        continue;
      }
      // before the body is read or validated: nothing about a write matters to a server that takes none
      if (opts.readOnly !== undefined && def.changes) throw new ReadOnlyError(method, opts.readOnly);
      const input =
        def.verb === 'GET'
          ? { ...queryObject(url), ...params }
          : { ...(await readJsonBodyAsObject(req)), ...params };
      const result = await dispatch(opts.api, method, stripUndefined(input));
      sendJson(res, 200, result === undefined ? { ok: true } : result);
      return;
    }
    if (allowed) {
      res.setHeader('Allow', allowed);
      sendJson(res, 405, { error: { code: 'invalid_input', message: `${url.pathname} takes ${allowed}`, problems: [] } });
      return;
    }
    sendError(res, { code: 'not_found', message: `no API route ${req.method} ${url.pathname}`, problems: [] });
  }

  async function readJsonBodyAsObject(req: IncomingMessage): Promise<Record<string, unknown>> {
    const body = await readJsonBody(req, maxBody);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SyntaxError('request body must be a JSON object');
    return body as Record<string, unknown>;
  }

  const server = createServer((req, res) => {
    securityHeaders(res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handle = async () => {
      const unknownHost = hostProblem(req.headers.host);
      if (unknownHost) return sendError(res, forbidden(unknownHost));
      if (url.pathname.startsWith('/api/')) return handleApi(req, res, url);
      const crossOrigin = isStateChanging(req) ? originProblem(req, opts.token) : null;
      if (crossOrigin) return sendError(res, forbidden(crossOrigin));
      // the landing URL: trade the token for a cookie and drop it from the address bar (and from history)
      const token = url.searchParams.get('token');
      if (token !== null) {
        // neither the redirect (it sets the cookie) nor the refusal may be kept by a cache or proxy
        res.setHeader('Cache-Control', 'no-store');
        if (tokensEqual(token, opts.token)) {
          res.setHeader('Set-Cookie', tokenCookie(opts.token));
          url.searchParams.delete('token');
          res.statusCode = 302;
          res.setHeader('Location', `${url.pathname}${url.search}${url.hash}`);
          res.end();
          return;
        }
        res.statusCode = 401;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('Wrong token. Open the URL that `normlab serve` printed.\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.end();
        return;
      }
      if (!(await serveStatic(opts.staticDir, url.pathname, res))) {
        res.statusCode = 503;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`The user interface is not built (no index.html in ${opts.staticDir}). Run: npx electron-vite build\n`);
      }
    };
    handle().catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof BodyTooLarge) sendJson(res, 413, { error: { code: 'invalid_input', message: error.message, problems: [] } });
      else if (error instanceof SyntaxError) sendError(res, { code: 'invalid_input', message: error.message, problems: [] });
      else if (error instanceof ReadOnlyError) {
        res.setHeader('Allow', ''); // no method of a write route is allowed here
        sendError(res, toErrorBody(error));
      }
      else sendError(res, toErrorBody(error));
    });
  });

  // live updates: one batched message per interval per client, only after the token checks out
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Set<WebSocket>();
  const batcher = new LiveBatcher<LiveEvent>({
    intervalMs: opts.liveIntervalMs ?? 250,
    coalesceKey: liveCoalesceKey,
    flush: (events) => {
      const message = JSON.stringify({ type: 'batch', events });
      for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(message);
    },
  });
  const unsubscribe = opts.live.subscribe((event) => {
    if (clients.size > 0) batcher.push(event);
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const unknownHost = hostProblem(req.headers.host);
    if (unknownHost) return refuseUpgrade(socket, 403, 'Forbidden', forbidden(unknownHost));
    if (url.pathname !== LIVE_PATH || !isAuthorized(req, opts.token)) return refuseUpgrade(socket, 401, 'Unauthorized');
    // browsers do not apply CORS to WebSockets: any page may open one to us, cookie attached, unless refused here
    const crossOrigin = originProblem(req, opts.token);
    if (crossOrigin) return refuseUpgrade(socket, 403, 'Forbidden', forbidden(crossOrigin));
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
      ws.send(JSON.stringify({ type: 'hello' }));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    server,
    port,
    host,
    url: `http://${shownHost}:${port}/?token=${opts.token}`,
    async close() {
      unsubscribe();
      batcher.close();
      for (const ws of clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
