import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import type { EpochMetrics, WorkerEvent } from '../../../src-worker/protocol';
import { parseRunSpec, type RunSpecInput } from '../../../src-worker/run-spec';
import { listCheckpoints } from '../../../src-worker/train/checkpoint';
import { trainModel, type TrainOutcome } from '../../../src-worker/train/loop';
import { blobDataset, tinyModel } from './fixtures';

beforeAll(async () => {
  await initBackend('cpu');
});

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'normlab-loop-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const environment = { backend: 'cpu', device: 'cpu', skippedBackends: [] };

interface Run extends TrainOutcome {
  events: WorkerEvent[];
  weights: Map<string, Float32Array>;
}

/** Trains the tiny model; `cancelAtStep` cancels before that global step. */
async function run(input: Partial<RunSpecInput>, opts: { cancelAtStep?: number; batchDelayMs?: number } = {}): Promise<Run> {
  const spec = parseRunSpec({ model: 'tiny', dataset: 'synthetic', epochs: 3, batchSize: 10, lr: 0.1, statsEvery: 4, progressEvery: 3, ...input });
  const dataset = blobDataset({ batchDelayMs: opts.batchDelayMs });
  const model = tinyModel(dataset.numClasses, spec.seed);
  const events: WorkerEvent[] = [];
  const outcome = await trainModel(spec, model, dataset, {
    emit: (e) => events.push(e),
    isCancelled: () => opts.cancelAtStep !== undefined && stepsSoFar(events) >= opts.cancelAtStep,
    environment,
  });
  const weights = new Map(model.namedVariables().map((v) => [v.path, v.variable.dataSync() as Float32Array]));
  model.dispose();
  expect(dataset.openIterators()).toBe(0);
  return { ...outcome, events, weights };
}

// num_tensors counts the whole process's tensors: a diagnostic, not part of a run's result.
const withoutTimes = (h: EpochMetrics[]) => h.map(({ epoch_time_s: _t, images_per_s: _i, num_tensors: _n, data_wait_frac: _w, ...rest }) => rest);

// norm_stats events carry the global step; with statsEvery 1 they count steps exactly.
function stepsSoFar(events: WorkerEvent[]): number {
  return events.filter((e) => e.event === 'norm_stats').length;
}


describe('trainModel', () => {
  it('learns the blobs far above chance and reports every EpochMetrics key', async () => {
    const r = await run({ epochs: 4 });
    expect(r.status).toBe('finished');
    expect(r.history).toHaveLength(4);
    expect(r.metrics.test_acc).toBeGreaterThan(0.8); // chance is 0.25
    expect(r.metrics.epochs_completed).toBe(4);
    expect(Object.keys(r.history[0]).sort()).toEqual(
      ['data_wait_frac', 'epoch_time_s', 'images_per_s', 'lr', 'num_tensors', 'test_acc', 'test_acc5', 'test_loss', 'train_acc', 'train_loss'],
    );
    expect(r.history[0].epsilon).toBeUndefined(); // DP runs only
    expect(r.history[0].test_acc5).toBe(1); // 4 classes: top-5 always hits
    expect(r.history[3].train_loss).toBeLessThan(r.history[0].train_loss);
    // cosine from 0.1 towards 0.001 over 4 epochs: epoch 1 at lr, then decreasing
    expect(r.history.map((m) => m.lr)).toEqual([0.1, 0.001 + 0.099 * (1 + Math.cos(Math.PI / 4)) / 2, 0.0505, 0.001 + 0.099 * (1 + Math.cos((3 * Math.PI) / 4)) / 2]);
    const kinds = new Set(r.events.map((e) => e.event));
    expect([...kinds]).toEqual(expect.arrayContaining(['started', 'progress', 'epoch', 'norm_stats']));
  });

  it('keeps tf.memory().numTensors flat across epochs and frees everything it made', async () => {
    const before = tf.memory().numTensors;
    const r = await run({ epochs: 4 });
    const counts = r.history.map((m) => m.num_tensors);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible: same spec and seed give the same metrics and weights; another seed does not', async () => {
    const a = await run({ seed: 3 });
    const b = await run({ seed: 3 });
    const c = await run({ seed: 4 });
    expect(withoutTimes(b.history)).toEqual(withoutTimes(a.history));
    for (const [path, w] of a.weights) expect(b.weights.get(path)).toEqual(w);
    expect(c.weights.get('fc1.weight')).not.toEqual(a.weights.get('fc1.weight'));
  });

  it('resumes bitwise after a mid-epoch cancel and after a kill following an epoch checkpoint', async () => {
    const spec = { seed: 1, statsEvery: 1, epochs: 3, checkpointEvery: 1 };
    const reference = await run({ ...spec, checkpointDir: tempDir() });

    // 10 batches per epoch: step 25 is the middle of epoch 3
    const dir = tempDir();
    const cancelled = await run({ ...spec, checkpointDir: dir }, { cancelAtStep: 25 });
    expect(cancelled.status).toBe('cancelled');
    const cancelEvent = cancelled.events.find((e) => e.event === 'checkpoint' && e.reason === 'cancel');
    expect(cancelEvent).toMatchObject({ epoch: 2 });
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 2, batchInEpoch: 5 });

    const resumed = await run({ ...spec, checkpointDir: dir, resume: true });
    expect(resumed.status).toBe('finished');
    expect(resumed.events.find((e) => e.event === 'started')).toMatchObject({ resumedFromEpoch: 2 });
    for (const [path, w] of reference.weights) expect(resumed.weights.get(path), path).toEqual(w);
    expect(withoutTimes(resumed.history)).toEqual(withoutTimes(reference.history));

    // a process killed after epoch 2's checkpoint, before writing anything else
    const killedDir = tempDir();
    await run({ ...spec, checkpointDir: killedDir }, { cancelAtStep: 25 });
    rmSync(listCheckpoints(killedDir)[0].path);
    expect(listCheckpoints(killedDir)[0]).toMatchObject({ epoch: 2, batchInEpoch: 0 });
    const fromEpoch = await run({ ...spec, checkpointDir: killedDir, resume: true });
    for (const [path, w] of reference.weights) expect(fromEpoch.weights.get(path), path).toEqual(w);
  });

  it('refuses to resume a checkpoint of a different run', async () => {
    const dir = tempDir();
    await run({ epochs: 1, checkpointDir: dir });
    await expect(run({ epochs: 2, batchSize: 12, checkpointDir: dir, resume: true })).rejects.toThrow(/different run \(batchSize: checkpoint 10, spec 12; epochs: checkpoint 1, spec 2\)/);
  });

  it('refuses a checkpoint whose config differs only in lr, but not one written under another backend', async () => {
    const dir = tempDir();
    await run({ epochs: 1, checkpointDir: dir });
    await expect(run({ epochs: 1, lr: 0.2, checkpointDir: dir, resume: true })).rejects.toThrow(/different run \(lr: checkpoint 0\.\d+, spec 0\.2\)/);
    await expect(run({ epochs: 1, backend: 'cpu', checkpointDir: dir, resume: true })).resolves.toMatchObject({ status: 'finished' });
  });

  it('stops with status diverged when the loss is no longer finite', async () => {
    const r = await run({ lr: 1e12, schedule: { kind: 'constant' } });
    expect(r.status).toBe('diverged');
    const warn = r.events.find((e) => e.event === 'log' && e.level === 'warn');
    expect(warn && 'message' in warn ? warn.message : '').toMatch(/loss became (NaN|Infinity)/);
  });

  it('writes periodic and final checkpoints and keeps only the newest two', async () => {
    const dir = tempDir();
    const r = await run({ epochs: 4, checkpointDir: dir, checkpointEvery: 1 });
    const reasons = r.events.flatMap((e) => (e.event === 'checkpoint' ? [e.reason] : []));
    expect(reasons).toEqual(['periodic', 'periodic', 'periodic', 'final']);
    expect(readdirSync(dir).sort()).toEqual(['ckpt-e0003-b000000.nlck', 'ckpt-e0004-b000000.nlck']);
    expect(r.lastCheckpoint).toBe(join(dir, 'ckpt-e0004-b000000.nlck'));
  });

  it('measures how much of a step waits on data', async () => {
    const slow = await run({ epochs: 1 }, { batchDelayMs: 20 });
    expect(slow.dataWaitFraction).toBeGreaterThan(0.3);
    expect(slow.dataWaitFraction).toBeLessThan(1);
    // the epoch's metrics carry the same share, so the store keeps it with the run
    const perEpoch = slow.history[0].data_wait_frac!;
    expect(perEpoch).toBeGreaterThan(0.3);
    expect(perEpoch).toBeLessThan(1);
    expect(perEpoch).toBeCloseTo(slow.dataWaitByEpoch[0], 10);
  });
});
