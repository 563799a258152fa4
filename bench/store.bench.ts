/**
 * Experiment-store benchmark: builds a store of RUNS runs × EPOCHS epochs × 9 metrics through the path the
 * scheduler takes (its store adapter: claim, worker events with journal stamps, the flush call after each one),
 * with SLOTS runs in flight at once, then times the aggregate query, curves and the CSV exports.
 *
 *   node --import tsx bench/store.bench.ts            # 10,000 × 150 × 9 = 13.5M metric rows
 *   BENCH_RUNS=1000 node --import tsx bench/store.bench.ts
 *
 * Targets: ingestion ≥ 50,000 metric rows/s; compare (all groups) < 100 ms.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { exportCsvToFile } from '../src-main/export/csv';
import { schedulerStoreFor } from '../src-main/scheduler/store-adapter';
import { ExperimentStore } from '../src-main/store/experiment-store';
import type { EpochMetrics, WorkerEvent } from '../src-worker/protocol';
import { parseRunSpec, type RunSpec } from '../src-worker/run-spec';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 150);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 8);
const SEEDS = 3;
/** Progress events per epoch (live-only: the store drops them, but the scheduler hands each one over). */
const PROGRESS_PER_EPOCH = 4;
const CHECKPOINT_EVERY = 10;
const MODELS = ['knresnet18', 'resnet18', 'preact_resnet18', 'knresnet34', 'resnet34'];

function specs(): RunSpec[] {
  const out: RunSpec[] = [];
  for (let i = 0; out.length < RUNS; i++) {
    const group = Math.floor(i / SEEDS);
    out.push(
      parseRunSpec({
        model: MODELS[group % MODELS.length],
        dataset: 'cifar100',
        epochs: EPOCHS,
        batchSize: 32,
        lr: 0.2 * 0.5 ** (Math.floor(group / MODELS.length) % 6),
        width: 1 + Math.floor(group / (MODELS.length * 6)) / 100,
        seed: (i % SEEDS) + 1,
      }),
    );
  }
  return out;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function timeIt<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const value = fn();
  return [value, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-bench-'));
  const file = join(dir, 'bench.db');
  console.log(`store benchmark: ${fmt(RUNS)} runs × ${EPOCHS} epochs × 9 metrics, ${SLOTS} runs in flight, file ${file}`);
  try {
    const store = ExperimentStore.open(file);
    const sweep = store.upsertSweep({ name: 'bench', spec: {} }).sweep;
    const all = specs();
    const [, addMs] = timeIt(() => store.addRuns(sweep.id, all));
    console.log(`add runs:        ${fmt(RUNS)} runs in ${fmt(addMs)} ms (${fmt(RUNS / (addMs / 1000))} runs/s)`);

    // ingestion as the scheduler does it (scheduler.ts launch()): every worker message goes to the adapter's
    // ingestEvent, then flush() unless it is progress, each message in its own turn of the event loop as IPC
    // delivers them (so the ingest buffer's timer runs as it would). SLOTS runs at a time, one epoch each in turn.
    const adapter = schedulerStoreFor(store);
    const owner = 'bench';
    let metricRows = 0;
    let events = 0;
    let epochEvents = 0;
    const t0 = performance.now();
    // CPU time too: on a shared machine it moves far less with the load than the wall clock does
    const ingestCpu0 = process.cpuUsage();
    const inFlight: { id: number; epoch: number; seed: number; journal: string; seq: number }[] = [];
    let finished = 0;
    const deliver = async (run: (typeof inFlight)[number], event: WorkerEvent) => {
      // a worker journals every event but progress before it sends it (durable-run.ts)
      const stamped: WorkerEvent = event.event === 'progress' ? event : { ...event, journal: run.journal, seq: ++run.seq };
      adapter.ingestEvent(run.id, stamped);
      if (event.event !== 'progress') adapter.flush();
      events++;
      await new Promise((r) => setImmediate(r));
    };
    const claim = async () => {
      const run = adapter.claimNextRun(`gpu:${inFlight.length}`, owner);
      if (!run) return;
      const entry = { id: run.id, epoch: 0, seed: run.spec.seed, journal: `journal-${run.id}`, seq: 0 };
      inFlight.push(entry);
      await deliver(entry, { event: 'started', backend: 'tensorflow', device: 'gpu', skippedBackends: [], resumedFromEpoch: 0, numParams: 11_000_000 });
    };
    for (let i = 0; i < SLOTS; i++) await claim();
    while (inFlight.length > 0) {
      for (let slot = inFlight.length - 1; slot >= 0; slot--) {
        const run = inFlight[slot];
        run.epoch++;
        const progress = run.epoch / EPOCHS;
        const acc = 0.7 * progress + 0.01 * run.seed;
        for (let batch = 1; batch <= PROGRESS_PER_EPOCH; batch++) {
          await deliver(run, { event: 'progress', epoch: run.epoch, batch, batchesPerEpoch: PROGRESS_PER_EPOCH, imagesPerSec: 900, etaSec: 60, loss: 2 });
        }
        const metrics: EpochMetrics = {
          train_loss: 4 - 3 * progress, train_acc: acc + 0.05, test_loss: 4.2 - 3 * progress, test_acc: acc,
          test_acc5: acc + 0.2, lr: 0.1 * Math.cos((Math.PI / 2) * progress), epoch_time_s: 30 + run.seed,
          images_per_s: 900, num_tensors: 120,
        };
        await deliver(run, { event: 'epoch', epoch: run.epoch, metrics });
        metricRows += Object.keys(metrics).length;
        epochEvents++;
        if (run.epoch % CHECKPOINT_EVERY === 0 || run.epoch === EPOCHS) {
          await deliver(run, { event: 'checkpoint', epoch: run.epoch, path: `/ck/run-${run.id}/epoch-${run.epoch}`, reason: run.epoch === EPOCHS ? 'final' : 'periodic' });
        }
        if (run.epoch === EPOCHS) {
          await deliver(run, {
            event: 'done',
            status: 'finished',
            metrics: { test_acc: acc, test_acc5: 0.9, test_loss: 1.2, train_loss: 1, train_acc: acc + 0.05, best_test_acc: acc + 0.01, epochs_completed: EPOCHS },
          });
          inFlight.splice(slot, 1);
          finished++;
          await claim();
        }
      }
    }
    store.flush();
    const ingestMs = performance.now() - t0;
    const ingestCpu = process.cpuUsage(ingestCpu0);
    const ingestCpuMs = (ingestCpu.user + ingestCpu.system) / 1000;
    console.log(
      `ingest:          ${fmt(events)} worker events (${fmt(epochEvents)} epochs, ${fmt(metricRows)} metric rows, ${fmt(finished)} done) ` +
        `in ${fmt(ingestMs / 1000, 1)} s through the scheduler's store adapter`,
    );
    console.log(
      `                 ${fmt(events / (ingestMs / 1000))} events/s, ${fmt(ingestMs / epochEvents, 3)} ms per epoch ingested, ` +
        `${fmt(metricRows / (ingestMs / 1000))} metric rows/s (target ≥ 50,000)`,
    );
    console.log(`                 cpu ${fmt(ingestCpuMs / epochEvents, 3)} ms per epoch ingested (${fmt(ingestCpuMs / 1000, 1)} s in all)`);
    console.log(`file size:       ${fmt(statSync(file).size / 1e6, 1)} MB (+ WAL ${fmt((statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0) / 1e6, 1)} MB)`);

    // a fresh read-only store: the first compare has to read every group's config (a UI's first view)
    const viewer = ExperimentStore.open(file, { readonly: true });
    const cpu0 = process.cpuUsage();
    const [firstResult, firstMs] = timeIt(() => viewer.aggregates({ sweepId: sweep.id }));
    const firstCpuMs = process.cpuUsage(cpu0).user / 1000 + process.cpuUsage(cpu0).system / 1000;
    const compareTimes: number[] = [];
    const compareCpu: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c = process.cpuUsage();
      compareTimes.push(timeIt(() => viewer.aggregates({ sweepId: sweep.id }))[1]);
      const used = process.cpuUsage(c);
      compareCpu.push((used.user + used.system) / 1000);
    }
    viewer.close();
    console.log(
      `compare (all):   ${fmt(firstResult.length)} groups: first call ${fmt(firstMs, 1)} ms (cpu ${fmt(firstCpuMs, 1)} ms), ` +
        `then median ${fmt(median(compareTimes), 1)} ms (cpu ${fmt(median(compareCpu), 1)} ms) of 5 (target < 100 ms)`,
    );
    const oneGroup = store.listRuns({ limit: 1 })[0].groupKey;
    const oneTimes = Array.from({ length: 5 }, () => timeIt(() => store.aggregates({ groupKey: oneGroup }))[1]);
    console.log(`compare (1 grp): median ${fmt(median(oneTimes), 2)} ms`);
    const someGroups = store.aggregates({ sweepId: sweep.id }).slice(0, 10).map((g) => g.groupKey);
    const curveTimes = Array.from({ length: 5 }, () => timeIt(() => store.curves(someGroups, 'test_acc'))[1]);
    console.log(`curves:          10 groups × ${EPOCHS} epochs, median ${fmt(median(curveTimes), 1)} ms`);

    for (const what of ['runs', 'aggregates', 'metrics'] as const) {
      const out = join(dir, `${what}.csv`);
      const t = performance.now();
      const { rows } = await exportCsvToFile(store, what, {}, out);
      const ms = performance.now() - t;
      console.log(
        `export ${what.padEnd(10)} ${fmt(rows)} rows in ${fmt(ms)} ms (${fmt(rows / (ms / 1000))} rows/s), ${fmt(statSync(out).size / 1e6, 1)} MB`,
      );
      rmSync(out);
    }
    store.close();
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
