import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NormLabService, type DeviceInfo, type RunController, type RunFilterInput } from '../../../src-main/api';
import { ExperimentStore } from '../../../src-main/store';
import { epochMetrics, finalMetrics, tempDir } from '../store/helpers';
import { refusal } from './service-fixtures';

const tmp = tempDir('api');
afterAll(() => tmp.cleanup());
let counter = 0;
function open(controller: RunController | null = null) {
  const store = ExperimentStore.open(join(tmp.dir, `api-${++counter}.db`));
  return { store, service: new NormLabService(store, controller) };
}

const base = { dataset: 'synthetic', epochs: 2, batchSize: 16 };

/** Plays a worker: claims the run and reports epochs and a final result. */
function runToEnd(store: ExperimentStore, runId: number, acc: number, status: 'finished' | 'diverged' = 'finished') {
  store.markRunning(runId, 'cpu:0');
  store.apply(runId, { event: 'epoch', epoch: 1, metrics: epochMetrics({ test_acc: acc / 2 }) });
  store.apply(runId, { event: 'epoch', epoch: 2, metrics: epochMetrics({ test_acc: acc }) });
  store.apply(runId, { event: 'done', status, metrics: finalMetrics({ test_acc: acc, best_test_acc: acc }) });
}

describe('NormLabService', () => {
  it('submits a sweep and, re-submitted, adds only what is new', async () => {
    const { store, service } = open();
    const spec = { name: 'kn-vs-bn', base: { ...base, lr: 0.1 }, grid: { model: ['knresnet18', 'resnet18_bn'] }, seeds: [1, 2] };
    const first = await service.submitSweep(spec);
    expect(first).toMatchObject({ name: 'kn-vs-bn', sweepCreated: true, groups: 2, runs: { total: 4, created: 4, existing: 0 } });
    const [r1, r2] = await service.listRuns({ sweepId: first.sweepId, limit: 2 });
    runToEnd(store, r1.id, 0.6);
    runToEnd(store, r2.id, 0.5);

    const again = await service.submitSweep(spec);
    expect(again).toMatchObject({ sweepId: first.sweepId, sweepCreated: false, runs: { total: 4, created: 0, existing: 4 } });
    expect(again.runs.existingByStatus).toEqual({ finished: 2, queued: 2 });

    const wider = await service.submitSweep({ ...spec, seeds: [1, 2, 3] });
    expect(wider.runs).toMatchObject({ total: 6, created: 2, existing: 4 });
    expect((await service.listRuns({ sweepId: first.sweepId })).length).toBe(6);
    const sweep = await service.getSweep(first.sweepId);
    expect([sweep.totalRuns, sweep.runCounts.finished, sweep.runCounts.queued]).toEqual([6, 2, 4]);
    store.close();
  });

  it('rejects bad input with a code and every problem, and keeps what was recorded', async () => {
    const { store, service } = open();
    await service.submitSweep({ name: 'ok', base: { ...base, model: 'cnn', lr: 0.1 } });
    const bad = await refusal(service.submitSweep({ name: 'ok', base: { ...base, model: 'cnn' }, grid: { lr: [0.1, -2] } }));
    expect(bad.code).toBe('invalid_input');
    expect(bad.problems).toEqual([expect.stringMatching(/^grid\.lr\[1\]: /)]);
    expect(JSON.parse(JSON.stringify(bad))).toMatchObject({ code: 'invalid_input', problems: bad.problems });
    expect((await service.listRuns()).length).toBe(1);

    expect((await refusal(service.getRun(999))).code).toBe('not_found');
    expect((await refusal(service.getRun(-1))).message).toMatch(/run id/);
    // what a remote caller may send, whatever the types say
    const untyped: unknown = { sweepId: 'one', colour: 'red' };
    const filterError = await refusal(service.listRuns(untyped as RunFilterInput));
    expect(filterError.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^filter\.sweepId: /), expect.stringMatching(/^filter: .*colour/)]),
    );
    expect((await refusal(service.exportCsv('everything'))).problems[0]).toMatch(/^what: /);
    store.close();
  });

  it('refuses a DP sweep with a BatchNorm model at submission and queues nothing', async () => {
    const { service } = open();
    const dp = { targetEpsilon: 8, logicalBatch: 64 };
    const error = await refusal(service.submitSweep({ name: 'dp-bn', base: { ...base, lr: 2, dp }, grid: { model: ['kn_cnn', 'preact_resnet18_bn'] } }));
    expect(error.code).toBe('invalid_input');
    expect(error.problems).toEqual(['grid.model[1]: DP-SGD cannot train preact_resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model']);
    expect(await service.listSweeps()).toEqual([]);
    const ok = await service.submitSweep({ name: 'dp-kn', base: { ...base, lr: 2, dp }, grid: { model: ['kn_cnn', 'resnet18_gn'], 'dp.maxGradNorm': [1, 2] } });
    expect(ok.runs).toMatchObject({ total: 4, created: 4 });
  });

  it('returns plain data: run detail, metrics, logs, checkpoints, aggregates and curves survive a JSON round trip', async () => {
    const { store, service } = open();
    const { sweepId } = await service.submitSweep({ name: 's', base: { ...base, model: 'knresnet18', lr: 0.1 }, repeats: 2 });
    const runs = await service.listRuns({ sweepId });
    runToEnd(store, runs[0].id, 0.6);
    runToEnd(store, runs[1].id, 0.7);
    store.apply(runs[1].id, { event: 'log', level: 'info', message: 'after the end' });
    store.apply(runs[1].id, { event: 'checkpoint', epoch: 2, path: '/ck/final', reason: 'final' });

    const detail = await service.getRun(runs[1].id);
    expect(detail.run.status).toBe('finished');
    expect(detail.latestMetrics.test_acc.value).toBe(0.7);
    expect(detail.params.model).toBe('knresnet18');
    expect(detail.latestCheckpoint!.path).toBe('/ck/final');
    expect((await service.getRunMetrics(runs[1].id, 'test_acc')).test_acc.map((p) => p.value)).toEqual([0.35, 0.7]);
    expect((await service.getRunLogs(runs[1].id)).map((l) => l.message)).toEqual(['after the end']);
    expect((await service.getRunCheckpoints(runs[1].id)).length).toBe(1);

    const [group] = await service.compare({ sweepId });
    expect(group.n).toBe(2);
    expect(group.finalTestAcc.mean).toBeCloseTo(0.65, 12);
    expect(group.finalTestAcc.sd).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
    const [curve] = await service.curves([group.groupKey], 'test_acc');
    expect(curve.points.map((p) => [p.epoch, p.n])).toEqual([[1, 2], [2, 2]]);

    for (const value of [detail, group, curve, await service.listSweeps()]) {
      expect(JSON.parse(JSON.stringify(value))).toEqual(value);
    }
    store.close();
  });

  it('drives the paper lr search: halve while better, then repeat the best lr with three seeds', async () => {
    const { store, service } = open();
    // accuracy by lr for this model: best at 0.05
    const accuracy = new Map([[0.2, 0.4], [0.1, 0.55], [0.05, 0.6], [0.025, 0.58]]);
    const submitted = await service.submitSweep({ name: 'lr', base: { ...base, model: 'knresnet18' }, lrSearch: {} });
    expect(submitted.runs.created).toBe(1);
    expect(submitted.lrSearch![0]).toMatchObject({ phase: 'searching', model: 'knresnet18' });

    const tried: number[] = [];
    for (let guard = 0; guard < 10; guard++) {
      const queued = await service.listRuns({ sweepId: submitted.sweepId, status: 'queued' });
      if (queued.length === 0) break;
      for (const run of queued) {
        tried.push(run.lr);
        runToEnd(store, run.id, run.seed === 1 ? accuracy.get(run.lr)! : accuracy.get(run.lr)! - 0.01 * run.seed);
        await service.afterRunEnded(run.id);
      }
    }
    expect(tried).toEqual([0.2, 0.1, 0.05, 0.025, 0.05, 0.05]);
    const state = await service.advanceLrSearch(submitted.sweepId);
    expect(state.added).toBe(0);
    expect(state.families[0]).toMatchObject({ phase: 'done', bestLr: 0.05 });
    const best = (await service.compare({ sweepId: submitted.sweepId })).find((g) => g.lr === 0.05)!;
    expect([best.n, best.seeds]).toEqual([3, [1, 2, 3]]);
    // re-submitting a finished search adds nothing
    expect((await service.submitSweep({ name: 'lr', base: { ...base, model: 'knresnet18' }, lrSearch: {} })).runs.created).toBe(0);
    store.close();
  });

  it('cancels and retries through the store without a scheduler, and delegates to one when attached', async () => {
    const alone = open();
    const { sweepId } = await alone.service.submitSweep({ name: 's', base: { ...base, model: 'cnn', lr: 0.1 }, repeats: 2 });
    const [a, b] = await alone.service.listRuns({ sweepId });
    expect((await alone.service.cancel(a.id)).status).toBe('cancelled');
    expect((await alone.service.retry(a.id)).status).toBe('queued');
    alone.store.markRunning(b.id, 'cpu:0');
    expect((await refusal(alone.service.cancel(b.id))).code).toBe('unavailable');
    expect((await refusal(alone.service.pause())).code).toBe('unavailable');
    expect(await alone.service.devices()).toEqual([]);
    expect((await refusal(alone.service.retry(b.id))).code).toBe('conflict');
    alone.store.close();

    // a minimal scheduler: acts on the store and remembers what it was asked
    const calls: string[] = [];
    // the store exists only once the service is opened with this controller
    const holder: { store?: ExperimentStore } = {};
    const controller: RunController = {
      cancel: async (id) => void (calls.push(`cancel ${id}`), holder.store?.cancelRun(id)),
      retry: async (id) => void (calls.push(`retry ${id}`), holder.store?.requeue(id)),
      pause: async () => void calls.push('pause'),
      resume: async () => void calls.push('resume'),
      devices: async (): Promise<DeviceInfo[]> => [{ id: 'cpu:0', kind: 'cpu', name: 'CPU slot 0', runId: null }],
      queueChanged: () => void calls.push('queueChanged'),
    };
    const withScheduler = open(controller);
    holder.store = withScheduler.store;
    const sub = await withScheduler.service.submitSweep({ name: 's', base: { ...base, model: 'cnn', lr: 0.1 } });
    const [run] = await withScheduler.service.listRuns({ sweepId: sub.sweepId });
    withScheduler.store.markRunning(run.id, 'cpu:0');
    expect((await withScheduler.service.cancel(run.id)).status).toBe('cancelled');
    expect((await withScheduler.service.retry(run.id)).status).toBe('queued');
    await withScheduler.service.pause();
    await withScheduler.service.resume();
    expect((await withScheduler.service.devices())[0].id).toBe('cpu:0');
    expect(calls).toEqual(['queueChanged', `cancel ${run.id}`, `retry ${run.id}`, 'pause', 'resume']);
    withScheduler.store.close();
  });
});
