import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configGroupKey } from '../../../src-main/store/group-key';
import { initBackend } from '../../../src-worker/backend';
import type { StepPoint, WorkerEvent } from '../../../src-worker/protocol';
import { runConfigHash } from '../../../src-worker/run-config';
import { parseRunSpec, type RunSpecInput } from '../../../src-worker/run-spec';
import { listCheckpoints } from '../../../src-worker/train/checkpoint';
import { trainModel, type TrainOutcome } from '../../../src-worker/train/loop';
import { polynomial } from '../../../src-worker/train/schedules';
import { StepLog } from '../../../src-worker/train/step-log';
import { blobDataset, tinyModel } from './fixtures';

beforeAll(async () => {
  await initBackend('cpu');
});

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'normlab-steps-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const environment = { backend: 'cpu', device: 'cpu', skippedBackends: [] };

/**
 * 96 blobs in batches of 10: 10 steps per epoch, the last of 6 examples. progressEvery 1 reports each step's loss,
 * statsEvery 1 lets a test cancel before a given global step (one norm_stats event per step).
 */
async function run(input: Partial<RunSpecInput>, opts: { cancelAtStep?: number } = {}): Promise<TrainOutcome & { events: WorkerEvent[] }> {
  const spec = parseRunSpec({
    model: 'tiny', dataset: 'synthetic', epochs: 3, batchSize: 10, lr: 0.1, statsEvery: 1, progressEvery: 1, logEverySteps: 4, ...input,
  });
  const dataset = blobDataset();
  const model = tinyModel(dataset.numClasses, spec.seed);
  const events: WorkerEvent[] = [];
  const steps = () => events.filter((e) => e.event === 'norm_stats').length;
  try {
    const outcome = await trainModel(spec, model, dataset, {
      emit: (e) => events.push(e),
      isCancelled: () => opts.cancelAtStep !== undefined && steps() >= opts.cancelAtStep,
      environment,
    });
    return { ...outcome, events };
  } finally {
    model.dispose();
  }
}

function stepPoints(events: WorkerEvent[]): StepPoint[] {
  return events.flatMap((e) => (e.event === 'steps' ? e.points : []));
}

/** Each step's mean loss and size, from the per-step progress events (progressEvery 1). */
function perStepLosses(events: WorkerEvent[]): { loss: number; size: number }[] {
  return events.flatMap((e) => (e.event === 'progress' ? [{ loss: e.loss, size: e.batch === e.batchesPerEpoch ? 6 : 10 }] : []));
}

describe('step-level points from the training loop', () => {
  it('a point every 4 global steps and at the last, each the example-weighted mean loss of its window, with the lr it trained at', async () => {
    const r = await run({ schedule: { kind: 'poly', power: 0.9 } });
    expect(r.status).toBe('finished');
    const points = stepPoints(r.events);
    expect(points.map((p) => p.step)).toEqual([4, 8, 12, 16, 20, 24, 28, 30]);
    // one steps event per epoch, before that epoch's metrics
    const kinds = r.events.filter((e) => e.event === 'steps' || e.event === 'epoch').map((e) => `${e.event}:${'epoch' in e ? e.epoch : ''}`);
    expect(kinds).toEqual(['steps:1', 'epoch:1', 'steps:2', 'epoch:2', 'steps:3', 'epoch:3']);
    const losses = perStepLosses(r.events);
    expect(losses).toHaveLength(30);
    let from = 0;
    for (const p of points) {
      const window = losses.slice(from, p.step);
      const mean = window.reduce((s, w) => s + w.loss * w.size, 0) / window.reduce((s, w) => s + w.size, 0);
      expect(p.train_loss, `step ${p.step}`).toBeCloseTo(mean, 10);
      // poly is stepped per batch: step s trained at the rate for s − 1 steps done
      expect(p.lr, `step ${p.step}`).toBe(polynomial(0.1, 0.9, p.step - 1, 30));
      from = p.step;
    }
    // the window mean is smoother than single batches: not just the point step's own loss
    expect(points[0]?.train_loss).not.toBe(losses[3]?.loss);
  });

  it("an epoch's lr is the last rate a step trained with, not the rate past the epoch's end", async () => {
    const r = await run({ schedule: { kind: 'poly', power: 0.9 }, logEverySteps: 0 });
    // 10 steps per epoch of 30: epoch e's last step ran with 10e − 1 steps done; the bug reported 10e (0 for the last)
    expect(r.history.map((m) => m.lr)).toEqual([9, 19, 29].map((done) => polynomial(0.1, 0.9, done, 30)));
    expect(r.history.at(-1)?.lr).toBeGreaterThan(0);
    expect(r.events.some((e) => e.event === 'steps')).toBe(false); // logEverySteps 0: none
  });

  it('a mid-epoch cancel and resume give the uninterrupted run\'s points, each exactly once, the open window carried in the checkpoint', async () => {
    const spec = { seed: 1, checkpointEvery: 1 };
    const reference = stepPoints((await run({ ...spec, checkpointDir: tempDir() })).events);

    const dir = tempDir();
    // step 25 is batch 5 of epoch 3: the window of point 28 holds step 25 when the run stops
    const cancelled = await run({ ...spec, checkpointDir: dir }, { cancelAtStep: 25 });
    expect(cancelled.status).toBe('cancelled');
    const before = stepPoints(cancelled.events);
    expect(before.map((p) => p.step)).toEqual([4, 8, 12, 16, 20, 24]);
    // the points of the stopped epoch are sent before its cancel checkpoint
    const order = cancelled.events.filter((e) => e.event === 'steps' || (e.event === 'checkpoint' && e.reason === 'cancel')).map((e) => e.event);
    expect(order.slice(-2)).toEqual(['steps', 'checkpoint']);
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 2, batchInEpoch: 5 });

    const resumed = await run({ ...spec, checkpointDir: dir, resume: true });
    const after = stepPoints(resumed.events);
    expect(after.map((p) => p.step)).toEqual([28, 30]);
    expect([...before, ...after]).toEqual(reference);
  });

  it('a resume from an earlier epoch checkpoint sends that epoch\'s points again with the same values', async () => {
    const spec = { seed: 2, checkpointEvery: 1 };
    const reference = stepPoints((await run({ ...spec, checkpointDir: tempDir() })).events);
    const dir = tempDir();
    await run({ ...spec, checkpointDir: dir }, { cancelAtStep: 25 });
    // as if killed before the cancel checkpoint: the newest left is epoch 2's
    const newest = listCheckpoints(dir)[0];
    if (!newest) throw new Error('no checkpoint written');
    rmSync(newest.path);
    const resumed = stepPoints((await run({ ...spec, checkpointDir: dir, resume: true })).events);
    // the epoch-2 checkpoint closed at step 20 with point 20 sent: the replay starts at 24 (window 21..24) as before
    expect(resumed).toEqual(reference.filter((p) => p.step > 20));
  });

  it('keeps tf.memory().numTensors flat while logging every step', async () => {
    const r = await run({ epochs: 3, logEverySteps: 1 });
    expect(stepPoints(r.events)).toHaveLength(30);
    const counts = r.history.map((m) => m.num_tensors);
    expect(new Set(counts).size, `num_tensors per epoch ${counts.join(', ')}`).toBe(1);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(counts[0] ?? 0);
  });
});

describe('StepLog', () => {
  it('skips steps that drew no example (DP Poisson sampling) and leaves out a loss no step of the window had', () => {
    const log = new StepLog(2, 6);
    log.record(1, Number.NaN, 0, 0.1);
    log.record(2, Number.NaN, 0, 0.1);
    log.record(3, 2, 4, 0.1);
    log.record(4, Number.NaN, 0, 0.05);
    log.record(5, 1, 1, 0.05);
    log.record(6, 4, 3, 0.01);
    expect(log.take()).toEqual([{ step: 2, lr: 0.1 }, { step: 4, train_loss: 2, lr: 0.05 }, { step: 6, train_loss: (1 + 12) / 4, lr: 0.01 }]);
    expect(log.take()).toEqual([]);
  });

  it('refuses a negative or fractional interval, naming it', () => {
    expect(() => new StepLog(-1, 10)).toThrow(/every must be an integer ≥ 0, got -1/);
    expect(() => new StepLog(2.5, 10)).toThrow(/got 2.5/);
  });
});

describe('logEverySteps as a run field', () => {
  const base = { model: 'kn_cnn', dataset: 'synthetic', epochs: 1, batchSize: 32, lr: 0.05 } as const;
  it('defaults to 10 and, being about observation, changes neither the group key nor the checkpoint config hash', () => {
    const spec = parseRunSpec(base);
    expect(spec.logEverySteps).toBe(10);
    const other = parseRunSpec({ ...base, logEverySteps: 3 });
    expect(configGroupKey(other)).toBe(configGroupKey(spec));
    expect(runConfigHash(other)).toBe(runConfigHash(spec));
    // a field that is part of the experiment does change it, so the comparison above can fail
    expect(configGroupKey(parseRunSpec({ ...base, epochs: 2 }))).not.toBe(configGroupKey(spec));
  });

  it('rejects a negative interval with the field named', () => {
    expect(() => parseRunSpec({ ...base, logEverySteps: -2 })).toThrow(/logEverySteps/);
  });
});
