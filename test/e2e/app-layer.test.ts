import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import type { RunRecord } from '../../src-main/store/types';
import { storedRows } from '../main/api/db-rows';
import { finalMetrics, spec } from '../main/store/helpers';
import { startServe, type ServeProcess } from './serve-harness';

/**
 * The application layer over HTTP, on a real `normlab serve` process and a real DB file: sweeps refused at
 * submit write nothing, retry with changes clones a run (409 where the state machine forbids it), and the run
 * filter keeps groupKey and ids.
 */
let dir: string;
let db: string;
let serve: ServeProcess;
let ids: { diverged: number; finished: number; groupKey: string };

async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${serve.origin}${path}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${serve.token}`, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: await res.json() };
}
const errorOf = (body: unknown) => (body as { error: { code: string; message: string; problems: string[] } }).error;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'normlab-app-layer-'));
  db = join(dir, 'normlab.db');
  const store = ExperimentStore.open(db);
  const { sweep } = store.upsertSweep({ name: 'study', spec: {} });
  const [diverged, finished] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs;
  for (const [run, status] of [[diverged, 'diverged'], [finished, 'finished']] as const) {
    store.markRunning(run.id, 'cpu:0');
    store.apply(run.id, { event: 'done', status, metrics: finalMetrics() });
  }
  ids = { diverged: diverged.id, finished: finished.id, groupKey: store.getRun(diverged.id)!.groupKey };
  store.close();
  const ui = join(dir, 'ui');
  mkdirSync(ui);
  writeFileSync(join(ui, 'index.html'), '<!doctype html><div id="app"></div>\n');
  serve = await startServe(['--db', db, '--workers', '1', '--static-dir', ui]);
  // nothing may start training here: the clones stay queued
  expect((await api('/api/queue/pause', { method: 'POST', body: {} })).status).toBe(200);
}, 90_000);

afterAll(async () => {
  await serve?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('normlab serve: the application layer', () => {
  it('refuses an unknown model and a missing data folder with 400 and the field, writing no sweep or run row', async () => {
    const before = storedRows(db);
    const base = { epochs: 1, batchSize: 8, lr: 0.1 };
    const unknown = await api('/api/sweeps', { method: 'POST', body: { spec: { name: 'x', base: { ...base, dataset: 'synthetic' }, grid: { model: ['cnn', 'knresnet99'] } } } });
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown.body)).toMatchObject({ code: 'invalid_input', problems: [expect.stringMatching(/^grid\.model\[1\]: unknown model "knresnet99"/)] });
    const missing = join(dir, 'nowhere');
    const noData = await api('/api/sweeps', { method: 'POST', body: { spec: { name: 'y', base: { ...base, model: 'cnn', dataset: 'cifar10', dataDir: missing } } } });
    expect(noData.status).toBe(400);
    expect(errorOf(noData.body).problems).toEqual([expect.stringContaining(`base.dataDir: data folder ${missing} does not exist`)]);
    expect(storedRows(db)).toEqual(before);
  });

  it('retries with changed lr and epochs as a new run in the same sweep; a finished run is a 409 with the store\'s reason', async () => {
    const clone = await api(`/api/runs/${ids.diverged}/retry`, { method: 'POST', body: { lr: 0.02, epochs: 4 } });
    expect(clone.status).toBe(200);
    const run = clone.body as RunRecord;
    expect(run).toMatchObject({ status: 'queued', lr: 0.02, epochs: 4, seed: 1 });
    expect(run.id).not.toBe(ids.diverged);
    const original = (await api(`/api/runs/${ids.diverged}`)).body as { run: RunRecord };
    expect(original.run.status).toBe('diverged');
    const logs = (await api(`/api/runs/${run.id}/logs`)).body as { message: string }[];
    expect(logs.map((l) => l.message)).toEqual([`cloned from run ${ids.diverged} (diverged) with lr 0.1 → 0.02, epochs 3 → 4`]);

    const refused = await api(`/api/runs/${ids.finished}/retry`, { method: 'POST', body: { lr: 0.02 } });
    expect(refused.status).toBe(409);
    expect(errorOf(refused.body)).toEqual({
      code: 'conflict', problems: [],
      message: `run ${ids.finished}: cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`,
    });
    const badEdit = await api(`/api/runs/${ids.diverged}/retry`, { method: 'POST', body: { lr: 'fast' } });
    expect(badEdit.status).toBe(400);
    expect(errorOf(badEdit.body).problems).toEqual([expect.stringMatching(/^lr: /)]);
  });

  it('filters runs by groupKey and ids, and counts with the same filter', async () => {
    const byGroup = (await api(`/api/runs?groupKey=${ids.groupKey}`)).body as RunRecord[];
    const ascending = (a: number, b: number) => a - b;
    expect(byGroup.map((r) => r.id).sort(ascending)).toEqual([ids.diverged, ids.finished].sort(ascending));
    const byIds = (await api(`/api/runs?ids=${ids.finished}`)).body as RunRecord[];
    expect(byIds.map((r) => r.id)).toEqual([ids.finished]);
    expect((await api(`/api/runs/count?groupKey=${ids.groupKey}&status=diverged`)).body).toBe(1);
    const bad = await api('/api/runs/count?status=exploded');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).problems).toEqual([expect.stringMatching(/^status\[0\]: /)]);
  });
});
