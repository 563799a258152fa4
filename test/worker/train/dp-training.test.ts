import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import type { EpochMetrics, WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';
import { listCheckpoints, readCheckpoint } from '../../../src-worker/train/checkpoint';
import { dpPlan } from '../../../src-worker/train/dp';
import { executeRun, type RunResult } from '../../../src-worker/train/run';

// DP-SGD through the real trainer: kn_cnn on the synthetic set (10 classes, chance 10%), wasm as in CI.
const scratch = mkdtempSync(join(tmpdir(), 'normlab-dp-train-'));
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(async () => {
  process.env.XDG_CACHE_HOME = join(scratch, 'cache');
  await initBackend('wasm');
});
afterAll(() => {
  process.env.XDG_CACHE_HOME = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

// 512 images, logical batch 256 (q = 1/2, 2 steps per epoch) in micro-batches of 64; noise calibrated to ε = 8.
const base: RunSpecInput = {
  model: 'kn_cnn', dataset: 'synthetic', syntheticTrainSize: 512, syntheticTestSize: 256, epochs: 2, batchSize: 64,
  lr: 2, momentum: 0, weightDecay: 0, schedule: { kind: 'constant' }, activation: 'mish', knDropout: 0,
  backend: 'wasm', statsEvery: 3, progressEvery: 1, checkpointEvery: 1, seed: 5,
  dp: { targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 256 },
};

async function train(spec: RunSpecInput, cancelAtStep?: number): Promise<RunResult & { events: WorkerEvent[] }> {
  const events: WorkerEvent[] = [];
  let steps = 0;
  const result = await executeRun(spec, {
    emit: (e) => {
      events.push(e);
      if (e.event === 'progress') steps++;
    },
    isCancelled: () => cancelAtStep !== undefined && steps >= cancelAtStep,
  });
  return { ...result, events };
}

const epochMetrics = (events: WorkerEvent[]) => events.flatMap((e) => (e.event === 'epoch' ? [e.metrics] : []));
const withoutTimes = (h: EpochMetrics[]) => h.map(({ epoch_time_s: _t, images_per_s: _i, num_tensors: _n, data_wait_frac: _w, ...rest }) => rest);

function checkpointWeights(dir: string): Map<string, Float32Array | Int32Array> {
  const ckpt = readCheckpoint(listCheckpoints(dir)[0].path);
  return new Map([...ckpt.tensors].filter(([name]) => name.startsWith('var:')).map(([name, t]) => [name, t.values]));
}

describe('DP-SGD training', () => {
  const refDir = join(scratch, 'reference');
  let reference: Awaited<ReturnType<typeof train>>;

  it('learns above chance, reports ε per epoch rising to at most the target, with flat tensor counts', async () => {
    const before = tf.memory().numTensors;
    reference = await train({ ...base, checkpointDir: refDir });
    expect(reference.status).toBe('finished');
    const epochs = epochMetrics(reference.events);
    expect(epochs).toHaveLength(2);
    const eps = epochs.map((m) => m.epsilon!);
    expect(eps[0]).toBeGreaterThan(0);
    expect(eps[1]).toBeGreaterThan(eps[0]);
    const plan = dpPlan(512, { targetEpsilon: 8, delta: 8e-7, maxGradNorm: 1, logicalBatch: 256 }, 2);
    expect(eps[1]).toBeCloseTo(plan.epsilon, 10); // the accountant after all steps is the plan's ε
    expect(eps[1]).toBeLessThanOrEqual(8 + 1e-6);
    expect(eps[1]).toBeGreaterThan(7.9); // calibrated to the budget, not far below it
    expect(reference.outcome!.metrics.test_acc).toBeGreaterThan(0.18);
    // train accuracy is not measured under DP; the loss is, over the Poisson-sampled examples
    for (const m of epochs) {
      expect(m.train_acc).toBeNaN();
      expect(m.train_loss).toBeGreaterThan(0);
      expect(m.data_wait_frac).toBeGreaterThanOrEqual(0);
      expect(m.data_wait_frac).toBeLessThan(1);
    }
    expect(new Set(epochs.map((m) => m.num_tensors)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    // 2 logical steps per epoch, progress for each; statistics from an ordinary forward every 3 steps
    const progress = reference.events.filter((e) => e.event === 'progress');
    expect(progress.map((e) => (e.event === 'progress' ? [e.epoch, e.batch, e.batchesPerEpoch] : []))).toEqual([[1, 1, 2], [1, 2, 2], [2, 1, 2], [2, 2, 2]]);
    const stats = reference.events.filter((e) => e.event === 'norm_stats');
    expect(stats.map((e) => (e.event === 'norm_stats' ? e.step : -1))).toEqual([0, 3]);
    expect(stats[0]).toMatchObject({ layers: [{ kind: 'kn' }, { kind: 'kn' }] });
    const plan_log = reference.events.find((e) => e.event === 'log' && e.message.startsWith('DP-SGD: q 0.5000'));
    expect(plan_log).toBeDefined();
    expect(readCheckpoint(listCheckpoints(refDir)[0].path).header.dp).toMatchObject({ steps: 4, noiseMultiplier: plan.noiseMultiplier, epsilon: eps[1] });
  });

  it('a run cancelled mid-epoch resumes with the accountant exactly where it was: same ε, same weights', async () => {
    const dir = join(scratch, 'resumed');
    const cancelled = await train({ ...base, checkpointDir: dir }, 3);
    expect(cancelled.status).toBe('cancelled');
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 1, batchInEpoch: 1 });
    expect(readCheckpoint(listCheckpoints(dir)[0].path).header.dp).toMatchObject({ steps: 3 });

    const resumed = await train({ ...base, checkpointDir: dir, resume: true });
    expect(resumed.status).toBe('finished');
    expect(resumed.events.find((e) => e.event === 'started')).toMatchObject({ resumedFromEpoch: 1 });
    const ref = reference.outcome!.history;
    expect(resumed.outcome!.history.at(-1)!.epsilon).toBe(ref.at(-1)!.epsilon);
    expect(withoutTimes(resumed.outcome!.history)).toEqual(withoutTimes(ref));
    const want = checkpointWeights(refDir);
    const got = checkpointWeights(dir);
    for (const [name, w] of want) expect(got.get(name), name).toEqual(w);

    // more epochs with a target ε would recalibrate σ and make the charge so far wrong: refused, as any change of
    // the run's config is
    const extended = await train({ ...base, epochs: 3, checkpointDir: dir, resume: true });
    expect(extended.exitCode).toBe(2);
    expect(extended.events.find((e) => e.event === 'error')).toMatchObject({ reason: expect.stringMatching(/belongs to a different run \(epochs: journal 2, spec 3\)/) });
  });

  it('refuses BatchNorm models before loading anything, and warns when the activation is not Mish', async () => {
    const bn = await train({ ...base, model: 'resnet18_bn', width: 0.0625 });
    expect(bn.exitCode).toBe(2);
    expect(bn.events.find((e) => e.event === 'error')).toEqual({
      event: 'error', reason: 'DP-SGD cannot train resnet18_bn: BatchNorm mixes examples in a batch; use a KN, GN or LN model',
    });
    expect(bn.events.some((e) => e.event === 'started')).toBe(false);

    const relu = await train({ ...base, activation: 'relu', epochs: 1, syntheticTrainSize: 128, syntheticTestSize: 32, dp: { noiseMultiplier: 1, logicalBatch: 64 } });
    expect(relu.status).toBe('finished');
    expect(relu.events).toContainEqual(expect.objectContaining({ event: 'log', level: 'warn', message: expect.stringMatching(/DP-SGD with relu activations: the paper trains every DP model with Mish/) }));

    const tooBig = await train({ ...base, syntheticTrainSize: 128, dp: { noiseMultiplier: 1, logicalBatch: 256 } });
    expect(tooBig.exitCode).toBe(2);
    // refused at validation, from the synthetic set's size in the spec, before the data or the model is built
    expect(tooBig.events.find((e) => e.event === 'error')).toMatchObject({
      reason: 'the DP-SGD logical batch 256 is larger than the training set (128 images of synthetic); lower --logical-batch / dp.logicalBatch or raise --synthetic-train-size / syntheticTrainSize',
    });
    expect(tooBig.events.some((e) => e.event === 'started')).toBe(false);
  });
});
