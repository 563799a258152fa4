import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostGuard } from '../../src-main/server/request-guard';
import { ExperimentStore } from '../../src-main/store';
import { populateFixtureStore } from './fixture-store';
import { startServe, wsText, type ServeProcess } from './serve-harness';

/**
 * `normlab serve` refuses what a token alone cannot: writes and live sockets from other origins (any page on any
 * 127.0.0.1 port gets the cookie sent along), requests under a foreign Host name (DNS rebinding), and any write
 * when started with --no-scheduler. Real server processes on real DB files; requests through node:http, since
 * fetch does not let a test choose Origin and Host freely.
 */
let dir: string;
let ui: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function call(serve: ServeProcess, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  const { hostname, port } = new URL(serve.origin);
  return new Promise((done, fail) => {
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

const errorOf = (reply: Reply) => (JSON.parse(reply.text) as { error: { code: string; message: string; problems: unknown[] } }).error;
const bearer = (serve: ServeProcess) => ({ Authorization: `Bearer ${serve.token}` });

/** The cookie as a browser would hold it after opening the printed URL. */
async function signIn(serve: ServeProcess): Promise<string> {
  const landing = await call(serve, 'GET', `/?token=${serve.token}`);
  expect(landing.status).toBe(302);
  return String(landing.headers['set-cookie']).split(';')[0];
}

/** Opens /api/live; resolves with the HTTP status of a refusal (and its body) or 101 once the hello arrives. */
function openLive(serve: ServeProcess, opts: { headers?: Record<string, string>; origin?: string }): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api/live`, { headers: opts.headers, origin: opts.origin });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    ws.on('message', (m) => {
      ws.close();
      done({ status: 101, body: wsText(m) });
    });
    ws.on('error', (e) => {
      if (!/Unexpected server response/.test(e.message)) fail(e);
    });
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-security-'));
  // a stand-in renderer: these tests are about the server, not the pages (serve.test.ts covers those)
  ui = join(dir, 'ui');
  mkdirSync(ui);
  writeFileSync(join(ui, 'index.html'), '<!doctype html><div id="app"></div>\n');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('normlab serve with its scheduler: Origin and Host', () => {
  let serve: ServeProcess;
  let cookie: string;
  const paused = async () => (JSON.parse((await call(serve, 'GET', '/api/queue', bearer(serve))).text) as { paused: boolean }).paused;

  beforeAll(async () => {
    // an empty store, so the scheduler has nothing to start
    serve = await startServe(['--db', join(dir, 'live.db'), '--workers', '1', '--static-dir', ui, '--allow-host', 'gpu-box.example']);
    cookie = await signIn(serve);
  });

  afterAll(async () => {
    await serve?.stop();
  });

  it('refuses a cookie-authenticated POST from another origin (403) and leaves the queue running', async () => {
    const port = new URL(serve.origin).port;
    const foreign = ['http://evil.example', 'http://127.0.0.1:1', `http://localhost:${port}`, 'null'];
    for (const origin of foreign) {
      // text/plain: a "simple" request, which a foreign page may send without a CORS preflight
      const reply = await call(serve, 'POST', '/api/queue/pause', { Cookie: cookie, Origin: origin, 'Content-Type': 'text/plain' }, '');
      expect(reply.status, origin).toBe(403);
      expect(errorOf(reply), origin).toEqual({
        code: 'forbidden', message: `cross-origin request refused: Origin ${origin} is not ${serve.origin}`, problems: [],
      });
    }
    const noOrigin = await call(serve, 'POST', '/api/queue/pause', { Cookie: cookie, 'Content-Type': 'text/plain' }, '');
    expect(noOrigin.status).toBe(403);
    expect(errorOf(noOrigin).message).toMatch(/must carry an Origin header/);
    const fetchSite = await call(serve, 'POST', '/api/queue/pause', { Cookie: cookie, Origin: serve.origin, 'Sec-Fetch-Site': 'same-site' });
    expect(fetchSite.status).toBe(403);
    expect(errorOf(fetchSite).message).toBe('cross-origin request refused: Sec-Fetch-Site is same-site, not same-origin');
    // the token itself does not make a foreign page's request ours either
    expect((await call(serve, 'POST', '/api/queue/pause', { ...bearer(serve), Origin: 'http://evil.example' })).status).toBe(403);
    expect(await paused()).toBe(false);
  });

  it('accepts a POST with the cookie from its own page', async () => {
    const headers = { Cookie: cookie, Origin: serve.origin, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' };
    expect((await call(serve, 'POST', '/api/queue/pause', headers, '{}')).status).toBe(200);
    expect(await paused()).toBe(true);
    expect((await call(serve, 'POST', '/api/queue/resume', headers, '{}')).status).toBe(200);
    expect(await paused()).toBe(false);
  });

  it('accepts a POST with the Bearer token and no Origin (scripts, curl)', async () => {
    expect((await call(serve, 'POST', '/api/queue/pause', bearer(serve))).status).toBe(200);
    expect(await paused()).toBe(true);
    expect((await call(serve, 'POST', '/api/queue/resume', bearer(serve))).status).toBe(200);
    expect(await paused()).toBe(false);
  });

  it('refuses the live WebSocket from another origin and opens it for its own page', async () => {
    const refused = await openLive(serve, { headers: { Cookie: cookie }, origin: 'http://127.0.0.1:1' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({
      error: { code: 'forbidden', message: `cross-origin request refused: Origin http://127.0.0.1:1 is not ${serve.origin}`, problems: [] },
    });
    expect((await openLive(serve, { headers: { Cookie: cookie } })).status).toBe(403);
    const own = await openLive(serve, { headers: { Cookie: cookie }, origin: serve.origin });
    expect(own).toEqual({ status: 101, body: JSON.stringify({ type: 'hello' }) });
    expect((await openLive(serve, { headers: bearer(serve) })).status).toBe(101);
  });

  it('refuses a foreign Host on pages, the API and the WebSocket (DNS rebinding)', async () => {
    const evil = { Host: 'evil.example', Cookie: cookie };
    const page = await call(serve, 'GET', '/', evil);
    expect(page.status).toBe(403);
    expect(errorOf(page)).toEqual({
      code: 'forbidden',
      message:
        'unknown host refused (DNS rebinding guard): Host "evil.example" is not one of 127.0.0.1, localhost, [::1], ' +
        'gpu-box.example; to reach it by this name, start normlab serve with --allow-host evil.example',
      problems: [],
    });
    const api = await call(serve, 'GET', '/api/runs', { ...bearer(serve), Host: 'evil.example:8765' });
    expect(api.status).toBe(403);
    expect(errorOf(api).message).toMatch(/^unknown host refused \(DNS rebinding guard\): Host "evil.example:8765"/);
    expect((await call(serve, 'GET', `/?token=${serve.token}`, { Host: 'evil.example' })).status).toBe(403);
    const live = await openLive(serve, { headers: { Host: 'evil.example', Cookie: cookie }, origin: 'http://evil.example' });
    expect(live.status).toBe(403);
    expect(JSON.parse(live.body).error.message).toMatch(/^unknown host refused/);
    expect((await openLive(serve, { headers: { ...bearer(serve), Host: 'evil.example' } })).status).toBe(403);
  });

  it('answers the loopback names under any port (ssh tunnels) and names given with --allow-host', async () => {
    for (const host of ['localhost:9000', '127.0.0.1', '[::1]:8765', 'LOCALHOST', 'gpu-box.example', 'gpu-box.example:443']) {
      expect((await call(serve, 'GET', '/api/queue', { ...bearer(serve), Host: host })).status, host).toBe(200);
    }
    expect((await call(serve, 'GET', '/', { Host: 'localhost:9000' })).text).toContain('<div id="app">');
    // through a tunnel the page's origin is the tunnel's, and so is the Host it sends
    const tunnelled = { Cookie: cookie, Host: 'localhost:9000', Origin: 'http://localhost:9000' };
    expect((await call(serve, 'POST', '/api/queue/resume', tunnelled)).status).toBe(200);
    expect((await call(serve, 'GET', '/api/queue', { ...bearer(serve), Host: '10.1.2.3' })).status).toBe(403);
  });

  it('trades only the right token for the cookie, and no cache may keep either answer', async () => {
    const wrong = await call(serve, 'GET', `/?token=${'0'.repeat(serve.token.length)}`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['cache-control']).toBe('no-store');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await call(serve, 'GET', '/?token=WRONG')).status).toBe(401);
    const right = await call(serve, 'GET', `/?token=${serve.token}`);
    expect(right.status).toBe(302);
    expect(right.headers['cache-control']).toBe('no-store');
    expect(right.headers.location).toBe('/');
    expect(String(right.headers['set-cookie'])).toMatch(/^normlab_token=[0-9a-f]{48}; Path=\/; HttpOnly; SameSite=Strict$/);
  });
});

describe('normlab serve --no-scheduler is read-only', () => {
  let serve: ServeProcess;
  let dbFile: string;
  let fixture: ReturnType<typeof populateFixtureStore>;
  let dbHash: string;
  const hash = () => createHash('sha256').update(readFileSync(dbFile)).digest('hex');
  const post = (path: string, body: unknown) =>
    call(serve, 'POST', path, { ...bearer(serve), 'Content-Type': 'application/json' }, JSON.stringify(body));
  const readOnly = (method: string) => ({
    code: 'read_only', message: `this server is read-only (started with --no-scheduler): ${method} is not available`, problems: [],
  });

  beforeAll(async () => {
    dbFile = join(dir, 'fixture.db');
    fixture = populateFixtureStore(dbFile);
    dbHash = hash();
    serve = await startServe(['--db', dbFile, '--no-scheduler', '--static-dir', ui]);
  });

  afterAll(async () => {
    await serve?.stop();
  });

  it('answers submitSweep, retry and every other write with 405 and says why', async () => {
    const spec = { name: 'sneaky', base: { dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 }, grid: { model: ['cnn'] } };
    const submit = await post('/api/sweeps', { spec });
    expect(submit.status).toBe(405);
    expect(errorOf(submit)).toEqual(readOnly('submitSweep'));
    const retry = await post(`/api/runs/${fixture.failedRunId}/retry`, {});
    expect(retry.status).toBe(405);
    expect(errorOf(retry)).toEqual(readOnly('retry'));
    // from its own page with the cookie too: the same answer, not a cross-origin one
    const cookie = await signIn(serve);
    const cancel = await call(serve, 'POST', `/api/runs/${fixture.queuedRunId}/cancel`, { Cookie: cookie, Origin: serve.origin }, '{}');
    expect(cancel.status).toBe(405);
    expect(errorOf(cancel)).toEqual(readOnly('cancel'));
    for (const [path, method] of [
      [`/api/sweeps/${fixture.sweepId}/advance`, 'advanceLrSearch'],
      ['/api/queue/pause', 'pause'],
      ['/api/queue/resume', 'resume'],
      ['/api/datasets/cifar10/download', 'downloadDataset'],
    ] as const) {
      const reply = await post(path, {});
      expect(reply.status, path).toBe(405);
      expect(errorOf(reply), path).toEqual(readOnly(method));
    }
  });

  it('still reads everything, POST reads included', async () => {
    const runs = JSON.parse((await call(serve, 'GET', '/api/runs', bearer(serve))).text) as { id: number; status: string }[];
    expect(runs).toHaveLength(fixture.runIds.length + 2);
    const failed = JSON.parse((await call(serve, 'GET', `/api/runs/${fixture.failedRunId}`, bearer(serve))).text) as { run: { status: string } };
    expect(failed.run.status).toBe('failed');
    expect(JSON.parse((await call(serve, 'GET', '/api/queue', bearer(serve))).text)).toEqual({ paused: null, hasScheduler: false, scheduledBy: null });
    const compare = await post('/api/compare', { filter: { sweepId: fixture.sweepId } });
    expect(compare.status).toBe(200);
    expect((JSON.parse(compare.text) as unknown[]).length).toBeGreaterThan(0);
    const preview = await post('/api/sweeps/preview', { spec: { name: 'p', base: { dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 }, grid: { model: ['cnn'] } } });
    expect(preview.status).toBe(200);
    expect(JSON.parse(preview.text)).toMatchObject({ ok: true, runs: 1 });
  });

  it('leaves the DB file byte for byte as it was', async () => {
    await post(`/api/runs/${fixture.failedRunId}/retry`, {});
    await post(`/api/runs/${fixture.queuedRunId}/cancel`, {});
    await serve.stop();
    expect(hash()).toBe(dbHash);
    const store = ExperimentStore.open(dbFile, { readonly: true });
    try {
      expect(store.getRun(fixture.failedRunId)?.status).toBe('failed');
      expect(store.getRun(fixture.queuedRunId)?.status).toBe('queued');
      expect(store.listSweeps().map((s) => s.name)).toEqual(['fixture-kn-vs-bn']);
    } finally {
      store.close();
    }
  });
});

describe('Host names answered when listening on every interface (--host 0.0.0.0 or ::)', () => {
  it('takes any IP literal, since those cannot be rebound, but names only when allowed', () => {
    for (const listenHost of ['0.0.0.0', '::']) {
      const problem = hostGuard({ listenHost, allowHosts: ['GPU-box.lab.example'] });
      for (const host of ['10.1.2.3:8765', '192.168.0.7', '[fe80::1]:8765', 'localhost:8765', 'gpu-box.lab.example:8765']) {
        expect(problem(host), `${listenHost} ${host}`).toBeNull();
      }
      expect(problem('evil.example:8765')).toBe(
        'unknown host refused (DNS rebinding guard): Host "evil.example:8765" is not one of 127.0.0.1, localhost, [::1], ' +
          'gpu-box.lab.example, or any IP address; to reach it by this name, start normlab serve with --allow-host evil.example',
      );
      for (const host of [undefined, '', 'evil@127.0.0.1', '127.0.0.1/x', '10.1.2.3.evil.example']) expect(problem(host), String(host)).not.toBeNull();
    }
    expect(hostGuard({ listenHost: '10.1.2.3' })('10.1.2.3:8765')).toBeNull();
    expect(hostGuard({ listenHost: '10.1.2.3' })('10.1.2.4:8765')).not.toBeNull();
  });
});
