import { parse } from 'csv-parse/sync';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS, exportCsvToFile, exportCsvToString } from '../../../src-main/export';
import { columnName } from '../../../src-main/export/config-columns';
import { dpFields, runFields, scheduleFields } from '../../../src-worker/run-fields';
import { ExperimentStore } from '../../../src-main/store';
import { epochMetrics, finalMetrics, sampleSd, spec, tempDir } from '../store/helpers';

const run = promisify(execFile);
const tmp = tempDir('export');
const dbFile = join(tmp.dir, 'export.db');
const awkward = 'kn, "the paper"\nsecond line';
let ids: number[] = [];
let sweepId = 0;
let otherSweepId = 0;
let editedSweepId = 0;

type Row = Record<string, string>;
const readCsv = (text: string): Row[] => parse<Row>(text, { columns: true, skip_empty_lines: false });

beforeAll(() => {
  const store = ExperimentStore.open(dbFile);
  sweepId = store.upsertSweep({ name: awkward, spec: {} }).sweep.id;
  ids = store.addRuns(sweepId, [
    spec({ model: 'knresnet18', seed: 1 }),
    spec({ model: 'knresnet18', seed: 2 }),
    spec({ model: 'knresnet18', seed: 3 }),
    spec({ model: 'resnet18', seed: 1 }),
  ]).runs.map((r) => r.id);
  const accs = [0.61, 0.64, 0.6];
  accs.forEach((acc, i) => {
    store.markRunning(ids[i], 'gpu:0');
    // the worker's start report, through the real ingest: backend, parameter count (and the adapter on webgpu)
    store.apply(ids[i], {
      event: 'started', device: 'gpu:0', backend: i === 1 ? 'webgpu' : 'wasm', skippedBackends: [], resumedFromEpoch: i === 2 ? 1 : 0, numParams: 1000 + i,
      ...(i === 1 ? { adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false } } : {}),
    });
    if (i === 0) store.recordExecutorHandle(ids[i], '4711');
    for (let epoch = 1; epoch <= 2; epoch++) {
      store.apply(ids[i], { event: 'epoch', epoch, metrics: epochMetrics({ test_acc: (acc * epoch) / 2, test_acc5: 0.8 + epoch / 20 + i / 100, train_loss: epoch === 2 && i === 2 ? NaN : 1 }) });
    }
    store.apply(ids[i], { event: 'done', status: 'finished', metrics: finalMetrics({ test_acc: acc, best_test_acc: acc + 0.02 }) });
  });
  store.markRunning(ids[3], 'gpu:1');
  store.failRun(ids[3], awkward);
  otherSweepId = store.upsertSweep({ name: 'other', spec: {} }).sweep.id;
  store.addRuns(otherSweepId, [spec({ model: 'cnn', seed: 7 })]);
  editedSweepId = store.upsertSweep({ name: 'edited', spec: {} }).sweep.id;
  store.addRuns(editedSweepId, [
    spec({ model: 'knresnet18', seed: 4, width: 0.5, momentum: 0.8, schedule: { kind: 'multistep', milestones: [2, 3], gamma: 0.5 }, dp: { targetEpsilon: 8, logicalBatch: 64 } }),
  ]);
  store.close();
});
afterAll(() => tmp.cleanup());

describe('CSV export', () => {
  it('exports runs with one row per run and quotes commas, quotes and newlines', async () => {
    const store = ExperimentStore.open(dbFile, { readonly: true });
    const out = join(tmp.dir, 'runs.csv');
    expect(await exportCsvToFile(store, 'runs', { sweepId }, out)).toEqual({ path: out, rows: 4 });
    store.close();
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe(EXPORT_COLUMNS.runs.join(','));
    // RFC 4180: the field is quoted and its quotes doubled
    expect(text).toContain('"kn, ""the paper""\nsecond line"');
    const rows = readCsv(text);
    // accuracies in percent, as the UI shows them, without float noise (0.61 * 100 is 61.00000000000001)
    expect(rows.map((r) => [r.run_id, r.model, r.seed, r.status, r.final_test_acc_pct, r.best_test_acc_pct, r.final_test_top5_pct])).toEqual([
      [String(ids[0]), 'knresnet18', '1', 'finished', '61', '63', '90'],
      [String(ids[1]), 'knresnet18', '2', 'finished', '64', '66', '91'],
      [String(ids[2]), 'knresnet18', '3', 'finished', '60', '62', '92'],
      [String(ids[3]), 'resnet18', '1', 'failed', '', '', ''],
    ]);
    // what the worker reported at start; a resumed start's line reads the same
    expect(rows.map((r) => [r.backend_used, r.num_params, r.adapter])).toEqual([
      ['wasm', '1000', ''], ['webgpu', '1001', 'NVIDIA H200'], ['wasm', '1002', ''], ['', '', ''],
    ]);
    // no fraction-valued accuracy column under an old name
    for (const old of ['final_test_acc', 'best_test_acc']) expect(Object.keys(rows[0])).not.toContain(old);
    for (const row of rows) {
      expect(row.sweep_name).toBe(awkward);
      expect([row.sweep_id, row.dataset, row.lr, row.batch_size, row.epochs]).toEqual([String(sweepId), 'synthetic', '0.1', '32', '3']);
      expect(row.group_key).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(rows[3].error_reason).toBe(awkward);
    // started to ended, failed runs too
    for (const row of rows) expect(row.duration_s).toMatch(/^\d+(\.\d+)?$/);
    // the job that ran it stays in the record after the run finished
    expect(rows.map((r) => r.job_id)).toEqual(['4711', '', '', '']);
    expect(rows[0].group_key).toBe(rows[2].group_key);
    expect(new Date(rows[0].created_at).getTime()).toBeGreaterThan(0);
  });

  it('has a column for every run field of the registry, each value from the run spec', async () => {
    const store = ExperimentStore.open(dbFile, { readonly: true });
    const { csv } = await exportCsvToString(store, 'runs', { sweepId });
    const edited = readCsv((await exportCsvToString(store, 'runs', { sweepId: editedSweepId })).csv)[0];
    store.close();
    const header = csv.split('\n')[0].split(',');
    expect(new Set(header).size).toBe(header.length);
    const expected = [
      ...runFields().filter((f) => f.key !== 'runId' && f.key !== 'dp').map((f) => columnName(f.path)),
      ...dpFields().map((f) => columnName(f.path)),
      ...scheduleFields().map((f) => columnName(f.path)),
    ];
    expect(header).toEqual(expect.arrayContaining(expected));
    expect(expected).toEqual(expect.arrayContaining(['batch_size', 'weight_decay', 'groups', 'kn_dropout', 'dp_max_grad_norm', 'schedule_milestones', 'backend']));
    const [first] = readCsv(csv);
    // defaults written out, unset optional fields empty, a run without DP has empty DP columns
    expect([first.width, first.momentum, first.weight_decay, first.groups, first.kn_dropout, first.schedule, first.schedule_decay, first.schedule_gamma]).toEqual(['1', '0.9', '0.0005', '32', '0.05', 'cosine', '0.01', '']);
    expect([first.nesterov, first.dp_target_epsilon, first.dp_logical_batch, first.backend, first.augment]).toEqual(['', '', '', 'auto', '']);
    // the edited run: its own values, the schedule's parameters of its kind only, list values joined by ';'
    expect([edited.width, edited.momentum, edited.schedule, edited.schedule_milestones, edited.schedule_gamma, edited.schedule_decay]).toEqual(['0.5', '0.8', 'multistep', '2;3', '0.5', '']);
    expect([edited.dp_target_epsilon, edited.dp_logical_batch, edited.dp_max_grad_norm, edited.dp_delta]).toEqual(['8', '64', '1', '8e-7']);
  });

  it('exports aggregates with mean and sample SD per config group', async () => {
    const store = ExperimentStore.open(dbFile, { readonly: true });
    const { csv, rows: count } = await exportCsvToString(store, 'aggregates', { sweepId });
    store.close();
    const rows = readCsv(csv);
    expect(count).toBe(2);
    expect(Object.keys(rows[0])).toEqual([...EXPORT_COLUMNS.aggregates]);
    const [kn, resnet] = rows;
    expect([kn.model, kn.n, kn.seeds, kn.runs_total]).toEqual(['knresnet18', '3', '1;2;3', '3']);
    expect(Number(kn.final_test_acc_mean_pct)).toBeCloseTo((100 * (0.61 + 0.64 + 0.6)) / 3, 9);
    expect(Number(kn.final_test_acc_sd_pct)).toBeCloseTo(100 * sampleSd([0.61, 0.64, 0.6]), 9);
    expect(Number(kn.best_test_acc_sd_pct)).toBeCloseTo(100 * sampleSd([0.63, 0.66, 0.62]), 9);
    expect(JSON.parse(kn.config)).toMatchObject({ model: 'knresnet18', lr: 0.1 });
    // the group's config as columns; a group has no seed and no execution fields
    expect([kn.lr, kn.batch_size, kn.width, kn.momentum, kn.weight_decay, kn.schedule, kn.schedule_decay]).toEqual(['0.1', '32', '1', '0.9', '0.0005', 'cosine', '0.01']);
    for (const absent of ['seed', 'backend', 'checkpoint_every', 'final_test_acc_mean']) expect(Object.keys(kn)).not.toContain(absent);
    expect([resnet.model, resnet.n, resnet.final_test_acc_mean_pct, resnet.final_test_acc_sd_pct, resnet.runs_failed]).toEqual([
      'resnet18', '0', '', '', '1',
    ]);
  });

  it('exports metric history as one row per run, epoch and key, keeping NaN', async () => {
    const store = ExperimentStore.open(dbFile, { readonly: true });
    const { csv, rows: count } = await exportCsvToString(store, 'metrics', { sweepId });
    store.close();
    const rows = readCsv(csv);
    const keys = Object.keys(epochMetrics()).sort();
    expect(count).toBe(3 * 2 * keys.length);
    expect(rows).toHaveLength(count);
    let i = 0;
    for (const id of ids.slice(0, 3)) {
      for (const epoch of [1, 2]) {
        for (const key of keys) {
          const row = rows[i++];
          expect([row.run_id, row.epoch, row.key]).toEqual([String(id), String(epoch), key]);
        }
      }
    }
    const nan = rows.find((r) => r.run_id === String(ids[2]) && r.epoch === '2' && r.key === 'train_loss')!;
    expect(nan.value).toBe('NaN');
    const acc = rows.find((r) => r.run_id === String(ids[1]) && r.epoch === '2' && r.key === 'test_acc')!;
    expect(Number(acc.value)).toBe(0.64);
  });

  it('runs end to end through `normlab export`, filtering by sweep name or id', async () => {
    const cli = resolve('bin/normlab.mjs');
    const out = join(tmp.dir, 'cli-runs.csv');
    const result = await run(process.execPath, [cli, 'export', '--db', dbFile, '--what', 'runs', '--out', out, '--sweep', 'other']);
    expect(result.stderr).toContain(`wrote 1 runs rows to ${out}`);
    const rows = readCsv(readFileSync(out, 'utf8'));
    expect(rows.map((r) => [r.sweep_id, r.model, r.seed, r.status, r.duration_s, r.backend_used])).toEqual([[String(otherSweepId), 'cnn', '7', 'queued', '', '']]);

    const stdout = await run(process.execPath, [cli, 'export', '--db', dbFile, '--what', 'aggregates', '--sweep', String(sweepId)]);
    expect(readCsv(stdout.stdout).map((r) => [r.model, r.n])).toEqual([['knresnet18', '3'], ['resnet18', '0']]);

    const metricsOut = join(tmp.dir, 'cli-metrics.csv');
    await run(process.execPath, [cli, 'export', '--db', dbFile, '--what', 'metrics', '--out', metricsOut]);
    expect(readCsv(readFileSync(metricsOut, 'utf8'))).toHaveLength(3 * 2 * 9);
  });

  it('fails with a message naming the file or the option, and leaves an existing output file alone', async () => {
    const cli = resolve('bin/normlab.mjs');
    const out = join(tmp.dir, 'kept.csv');
    writeFileSync(out, 'precious');
    const garbage = join(tmp.dir, 'garbage.db');
    writeFileSync(garbage, 'this is not sqlite at all, just some text that is long enough'.repeat(20));
    const failures: [string[], RegExp][] = [
      [['--db', garbage, '--what', 'runs', '--out', out], new RegExp(`garbage\\.db: the file is not an SQLite database`)],
      [['--db', join(tmp.dir, 'nope.db'), '--what', 'runs', '--out', out], /nope\.db: the file does not exist/],
      [['--db', dbFile, '--what', 'runs', '--out', out, '--sweep', 'missing'], /--sweep missing: no sweep with that id or name/],
      [['--db', dbFile, '--what', 'everything', '--out', out], /--what.*everything.*runs, aggregates, metrics/s],
    ];
    // the CLI's start-up dominates; run the cases side by side
    const outcomes = await Promise.all(
      failures.map(([args]) =>
        run(process.execPath, [cli, 'export', ...args]).then(
          () => null,
          (error: { code: number; stderr: string }) => error,
        ),
      ),
    );
    for (const [i, [args, message]] of failures.entries()) {
      const failed = outcomes[i];
      expect(failed, args.join(' ')).not.toBeNull();
      expect(failed!.code).not.toBe(0);
      expect(failed!.stderr).toMatch(message);
    }
    expect(readFileSync(out, 'utf8')).toBe('precious');
    expect(existsSync(join(tmp.dir, 'nope.db'))).toBe(false);
  });
});
