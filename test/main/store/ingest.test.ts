import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ExperimentStore, IngestError } from '../../../src-main/store';
import type { DistributionSummary } from '../../../src-worker/kn/stats';
import { epochMetrics, finalMetrics, spec, tempDir } from './helpers';

const tmp = tempDir('store-ingest');
afterAll(() => tmp.cleanup());
let counter = 0;

/** A writer store with one running run, and a second read-only connection to see what is on disk. */
function setup(options: { flushRows?: number; flushMs?: number } = {}) {
  const file = join(tmp.dir, `ingest-${++counter}.db`);
  const store = ExperimentStore.open(file, { flushRows: options.flushRows ?? 1000, flushMs: options.flushMs ?? 60_000 });
  const { sweep } = store.upsertSweep({ name: 's', spec: {} });
  const runId = store.addRuns(sweep.id, [spec()]).runs[0].id;
  store.markRunning(runId, 'cpu:0');
  const onDisk = ExperimentStore.open(file, { readonly: true });
  const rowsOnDisk = () => Object.values(onDisk.getMetrics(runId)).reduce((n, points) => n + points.length, 0);
  return { store, runId, onDisk, rowsOnDisk };
}

const summary = (mean: number): DistributionSummary => ({
  mean, std: 0.1, min: mean - 1, max: mean + 1, percentiles: [0, 0.25, 0.5, 0.75, 1], histogram: { lo: -1, hi: 1, counts: [1, 2, 3] },
});

describe('ingest', () => {
  it('holds rows until the batch size is reached, then writes them in one go, never splitting an event', () => {
    const { store, runId, onDisk, rowsOnDisk } = setup({ flushRows: 20 });
    store.ingestMetrics(runId, 0, { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9 });
    expect(store.pendingRows).toBe(9);
    expect(rowsOnDisk()).toBe(0);
    store.apply(runId, { event: 'epoch', epoch: 1, metrics: epochMetrics() }); // 9 more: 18 pending
    expect(rowsOnDisk()).toBe(0);
    store.apply(runId, { event: 'epoch', epoch: 2, metrics: epochMetrics() }); // crosses 20
    expect(store.pendingRows).toBe(0);
    expect(rowsOnDisk()).toBe(27);
    onDisk.close();
    store.close();
  });

  it('writes pending rows after the delay even when the batch is not full', async () => {
    const { store, runId, onDisk, rowsOnDisk } = setup({ flushRows: 10_000, flushMs: 40 });
    store.apply(runId, { event: 'epoch', epoch: 1, metrics: epochMetrics() });
    expect(rowsOnDisk()).toBe(0);
    // the 40 ms timer, not a full batch (10,000 rows), writes them; poll so a loaded machine cannot flake it
    await vi.waitFor(() => expect(rowsOnDisk()).toBe(9), { timeout: 5000, interval: 20 });
    onDisk.close();
    store.close();
  });

  it('flushes before a status change, so a finished run never lacks history it was sent', () => {
    const { store, runId, onDisk, rowsOnDisk } = setup();
    for (let epoch = 1; epoch <= 3; epoch++) {
      store.apply(runId, { event: 'epoch', epoch, metrics: epochMetrics({ test_acc: 0.1 * epoch }) });
    }
    store.apply(runId, { event: 'log', level: 'info', message: 'almost done' });
    expect(rowsOnDisk()).toBe(0);
    store.apply(runId, { event: 'done', status: 'finished', metrics: finalMetrics({ test_acc: 0.3, best_test_acc: 0.3 }) });
    expect(rowsOnDisk()).toBe(27);
    expect(onDisk.getRun(runId)!.status).toBe('finished');
    expect(onDisk.getRun(runId)!.finalTestAcc).toBe(0.3);
    expect(onDisk.getLogs(runId).map((l) => l.message)).toEqual(['almost done']);
    onDisk.close();
    store.close();
  });

  it('keeps the highest step in latest_metrics, NaN as NaN, and a re-sent epoch replaces the old value', () => {
    const { store, runId, onDisk } = setup();
    store.apply(runId, { event: 'epoch', epoch: 2, metrics: epochMetrics({ test_acc: 0.2 }) });
    store.apply(runId, { event: 'epoch', epoch: 1, metrics: epochMetrics({ test_acc: 0.1 }) });
    store.flush();
    // a later batch with an older step must not move latest back
    store.apply(runId, { event: 'epoch', epoch: 0, metrics: epochMetrics({ test_acc: 0.0 }) });
    // a resumed run re-sends epoch 2
    store.apply(runId, { event: 'epoch', epoch: 2, metrics: epochMetrics({ test_acc: 0.25, train_loss: NaN }) });
    const latest = store.getLatestMetrics(runId);
    expect([latest.test_acc.step, latest.test_acc.value]).toEqual([2, 0.25]);
    expect(latest.train_loss.value).toBeNaN();
    expect(onDisk.getMetrics(runId, 'test_acc').test_acc.map((p) => [p.step, p.value])).toEqual([[0, 0], [1, 0.1], [2, 0.25]]);
    expect(Object.keys(store.getMetrics(runId)).sort()).toEqual(Object.keys(epochMetrics()).sort());
    onDisk.close();
    store.close();
  });

  it('records normalization statistics, checkpoints, logs, errors and start-up reports', () => {
    const { store, runId } = setup();
    store.apply(runId, {
      event: 'started', backend: 'wasm', device: 'cpu', skippedBackends: [{ backend: 'tensorflow', reason: 'not installed' }],
      resumedFromEpoch: 2, numParams: 1234,
    });
    store.apply(runId, {
      event: 'norm_stats', epoch: 1, step: 50,
      layers: [
        { layer: 'stem.kn', kind: 'kn', mean: summary(0.1), std: summary(1.1) },
        { layer: 'block1.kn', kind: 'kn', mean: summary(0.2), std: summary(1.2) },
      ],
    });
    store.apply(runId, { event: 'norm_stats', epoch: 2, step: 100, layers: [{ layer: 'stem.kn', kind: 'kn', mean: summary(0.3), std: summary(1.3) }] });
    store.apply(runId, { event: 'checkpoint', epoch: 1, path: '/ck/e1', reason: 'periodic' });
    store.apply(runId, { event: 'checkpoint', epoch: 2, path: '/ck/e2', reason: 'periodic' });
    store.apply(runId, { event: 'checkpoint', epoch: 2, path: '/ck/e2-cancel', reason: 'cancel' });
    store.apply(runId, { event: 'progress', epoch: 2, batch: 1, batchesPerEpoch: 10, imagesPerSec: 5, etaSec: 9, loss: 1 });
    store.apply(runId, { event: 'error', reason: 'out of memory', detail: 'at conv2d' });
    store.apply(runId, { event: 'done', status: 'failed', metrics: finalMetrics() });

    expect(store.getNormStats(runId, 'stem.kn').map((s) => [s.step, s.mean.mean, s.std.mean])).toEqual([[50, 0.1, 1.1], [100, 0.3, 1.3]]);
    expect(store.getNormStats(runId)).toHaveLength(3);
    expect(store.getNormStats(runId)[0].mean.histogram.counts).toEqual([1, 2, 3]);
    expect(store.listNormLayers(runId)).toEqual([{ layer: 'stem.kn', kind: 'kn' }, { layer: 'block1.kn', kind: 'kn' }]);
    expect(store.getCheckpoints(runId).map((c) => c.path)).toEqual(['/ck/e1', '/ck/e2', '/ck/e2-cancel']);
    expect(store.latestCheckpoint(runId)!.path).toBe('/ck/e2-cancel');
    const logs = store.getLogs(runId);
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ['info', 'started on cpu with backend wasm, resumed after epoch 2; 1234 parameters'],
      ['warn', 'backend tensorflow skipped: not installed'],
      ['error', 'out of memory\nat conv2d'],
    ]);
    expect(store.getLogs(runId, { afterId: logs[0].id }).map((l) => l.id)).toEqual([logs[1].id, logs[2].id]);
    const run = store.getRun(runId)!;
    expect([run.status, run.errorReason]).toEqual(['failed', 'out of memory']);
    store.close();
  });

  it('refuses events it cannot record and writes nothing of them', () => {
    const { store, runId } = setup();
    expect(() => store.apply(424242, { event: 'log', level: 'info', message: 'x' })).toThrow(IngestError);
    expect(() => store.apply(424242, { event: 'log', level: 'info', message: 'x' })).toThrow('run 424242 does not exist');
    expect(() => store.apply(runId, { event: 'log', runId: runId + 1, level: 'info', message: 'x' })).toThrow(
      `event log is for run ${runId + 1}, not run ${runId}`,
    );
    const badKind = { layer: 'x', kind: 'zn', mean: summary(0), std: summary(0) } as never;
    const good = { layer: 'y', kind: 'bn' as const, mean: summary(0), std: summary(0) };
    expect(() => store.apply(runId, { event: 'norm_stats', epoch: 1, step: 1, layers: [good, badKind] })).toThrow(/unknown kind "zn"/);
    expect(() => store.apply(runId, { event: 'checkpoint', epoch: 1, path: 'p', reason: 'whim' as never })).toThrow(/checkpoint reason "whim"/);
    expect(() => store.ingestMetrics(runId, -1, { a: 1 })).toThrow(/step -1/);
    expect(store.pendingRows).toBe(0);
    // the good ones after still land
    store.apply(runId, { event: 'log', level: 'warn', message: 'fine' });
    expect(store.getLogs(runId).map((l) => l.message)).toEqual(['fine']);
    expect(store.getNormStats(runId)).toEqual([]);
    store.close();
  });

  it('marks a queued run running when its worker reports start without a scheduler claim', () => {
    const { store, onDisk } = setup();
    const sweepId = store.listSweeps()[0].id;
    const oneOff = store.addRuns(sweepId, [spec({ seed: 42 })]).runs[0].id;
    store.apply(oneOff, { event: 'started', backend: 'cpu', device: 'cpu', skippedBackends: [], resumedFromEpoch: 0, numParams: 10 });
    const run = store.getRun(oneOff)!;
    expect([run.status, run.device, run.attempts]).toEqual(['running', 'cpu', 1]);
    expect(store.getLogs(oneOff).map((l) => l.message)).toEqual(['started on cpu with backend cpu; 10 parameters']);
    onDisk.close();
    store.close();
  });

  it('writes what is pending when closed', () => {
    const { store, runId, onDisk, rowsOnDisk } = setup();
    store.apply(runId, { event: 'epoch', epoch: 1, metrics: epochMetrics() });
    store.close();
    expect(rowsOnDisk()).toBe(9);
    onDisk.close();
  });
});
