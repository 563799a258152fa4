import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { wsText } from './serve-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormLabService } from '../../src-main/api/service';
import { bindAppApi } from '../../src-main/server/app-api';
import { newToken } from '../../src-main/server/auth';
import { startNormLabServer, type RunningServer } from '../../src-main/server/http-server';
import { LiveHub, type LiveEvent } from '../../src-main/server/live-events';
import { ExperimentStore } from '../../src-main/store';

/** Live updates over the WebSocket are batched and coalesced, so a sweep streaming hundreds of runs stays light. */
let dir: string;
let store: ExperimentStore;
let live: LiveHub;
let server: RunningServer;
const token = newToken();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-live-'));
  store = ExperimentStore.open(join(dir, 'normlab.db'));
  live = new LiveHub();
  const service = new NormLabService(store, null, { dataDir: dir });
  const api = bindAppApi(service, live);
  server = await startNormLabServer({ api, live, token, staticDir: dir, liveIntervalMs: 200 });
});

afterAll(async () => {
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(): Promise<{ ws: WebSocket; batches: LiveEvent[][] }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/live`, { headers: { Authorization: `Bearer ${token}` } });
    const batches: LiveEvent[][] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(wsText(m)) as { type: string; events?: LiveEvent[] };
      if (msg.type === 'hello') done({ ws, batches });
      if (msg.type === 'batch') batches.push(msg.events!);
    });
    ws.on('error', fail);
  });
}

describe('live updates', () => {
  it('sends one batch per interval, keeping only the newest progress of each run and every other event', async () => {
    const { ws, batches } = await connect();
    for (let runId = 1; runId <= 300; runId++) {
      for (let batch = 1; batch <= 5; batch++) {
        live.emit({ type: 'worker', runId, event: { event: 'progress', epoch: 1, batch, batchesPerEpoch: 5, imagesPerSec: 100, etaSec: 1, loss: 1 } });
      }
    }
    live.emit({ type: 'run_ended', runId: 1, status: 'finished' });
    live.emit({ type: 'norm_stats', runId: 2, epoch: 1, step: 50, layers: 12 });
    await new Promise((r) => setTimeout(r, 500));
    ws.close();
    expect(batches).toHaveLength(1);
    const events = batches[0];
    const progress = events.filter((e) => e.type === 'worker');
    expect(progress).toHaveLength(300);
    expect(progress.every((e) => e.type === 'worker' && e.event.event === 'progress' && e.event.batch === 5)).toBe(true);
    expect(events.filter((e) => e.type !== 'worker')).toEqual([
      { type: 'run_ended', runId: 1, status: 'finished' },
      { type: 'norm_stats', runId: 2, epoch: 1, step: 50, layers: 12 },
    ]);
  });

  it('announces queue changes when a sweep is submitted over HTTP', async () => {
    const { ws, batches } = await connect();
    const res = await fetch(`http://127.0.0.1:${server.port}/api/sweeps`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ spec: { name: 'live', base: { dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 }, grid: { model: ['cnn', 'kn_cnn'] }, repeats: 2 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'live', runs: { total: 4, created: 4 } });
    await new Promise((r) => setTimeout(r, 400));
    ws.close();
    expect(batches.flat()).toContainEqual({ type: 'queue_changed' });
  });

  it('serves a clear 503 page when the renderer is not built', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('Run: npx electron-vite build');
  });
});
