import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-worker/backend';
import { createModel } from '../../../src-worker/models';
import type { EpochMetrics, WorkerEvent } from '../../../src-worker/protocol';
import { canonicalJson } from '../../../src-worker/run-fields';
import { parseRunSpec, type RunSpec, type RunSpecInput } from '../../../src-worker/run-spec';
import { encodeCheckpoint, listCheckpoints, readCheckpoint, type CheckpointContent } from '../../../src-worker/train/checkpoint';
import { trainModel, type TrainOutcome } from '../../../src-worker/train/loop';
import type { TrainableModel, TrainingDataset } from '../../../src-worker/train/types';
import { blobDataset, tinyModel } from './fixtures';

beforeAll(async () => {
  await initBackend('cpu');
});

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'normlab-recipe-'));
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

type Metrics = EpochMetrics & { test_acc_ema?: number };

async function run(
  input: Partial<RunSpecInput>,
  opts: { cancelAtStep?: number; model?: (numClasses: number, seed: number) => TrainableModel; dataset?: () => TrainingDataset } = {},
): Promise<Run> {
  const spec = parseRunSpec({ model: 'tiny', dataset: 'synthetic', epochs: 3, batchSize: 10, lr: 0.01, statsEvery: 1, progressEvery: 3, ...input });
  const dataset = opts.dataset?.() ?? blobDataset();
  const model = (opts.model ?? tinyModel)(dataset.numClasses, spec.seed);
  const events: WorkerEvent[] = [];
  const outcome = await trainModel(spec, model, dataset, {
    emit: (e) => events.push(e),
    // statsEvery 1: one norm_stats event per optimizer step
    isCancelled: () => opts.cancelAtStep !== undefined && events.filter((e) => e.event === 'norm_stats').length >= opts.cancelAtStep,
    environment,
  });
  const weights = new Map(model.namedVariables().map((v) => [v.path, v.variable.dataSync() as Float32Array]));
  model.dispose();
  return { ...outcome, events, weights };
}

const withoutTimes = (h: Metrics[]) => h.map(({ epoch_time_s: _t, images_per_s: _i, num_tensors: _n, data_wait_frac: _w, ...rest }) => rest);

// the ConvNeXt recipe's pieces, at the tiny model's scale
const recipe: Partial<RunSpecInput> = {
  optimizer: 'adamw', weightDecay: 0.05, labelSmoothing: 0.1, mixupAlpha: 0.2, cutmixAlpha: 1.0,
  modelEma: true, emaSteps: 2, emaDecay: 0.99, schedule: { kind: 'warmup-cosine', warmupEpochs: 1 }, seed: 3,
};

describe('training with the ConvNeXt recipe (AdamW, mixing, label smoothing, EMA, warm-up cosine)', () => {
  it('trains, follows the warm-up cosine schedule and records test_acc_ema each epoch', async () => {
    const dir = tempDir();
    const r = await run({ ...recipe, checkpointDir: dir });
    expect(r.status).toBe('finished');
    const history = r.history as Metrics[];
    // warm-up epoch at lr·0.01, then cosine over the 2 remaining epochs: lr, lr/2
    expect(history.map((m) => m.lr)).toEqual([0.01 * 0.01, 0.01, expect.closeTo(0.005, 12)]);
    for (const m of history) {
      expect(m.test_acc_ema).toBeGreaterThanOrEqual(0);
      expect(m.test_acc_ema).toBeLessThanOrEqual(1);
    }
    expect(history.at(-1)?.test_acc).toBeGreaterThan(0.5);
    const ckpt = readCheckpoint(listCheckpoints(dir)[0].path);
    expect(ckpt.header.optimizer).toMatchObject({ kind: 'adamw', adamwSteps: 30 });
    // 10 steps per epoch, an update at steps 0, 2, …, 8: 5 per epoch, the warm-up epoch's ones copies
    expect(ckpt.header.ema).toEqual({ updates: 10 });
    expect([...ckpt.tensors.keys()]).toEqual(expect.arrayContaining(['adamw_m:fc1.weight', 'adamw_v:fc2.bias', 'ema:fc1.weight', 'ema:fc1.running_mean']));
  });

  it('keeps an EMA only with --model-ema, and the EMA leaves the training itself unchanged', async () => {
    const off = await run({ ...recipe, modelEma: false, epochs: 2 });
    expect((off.history as Metrics[]).every((m) => m.test_acc_ema === undefined)).toBe(true);
    const on = await run({ ...recipe, epochs: 2 });
    // the training itself does not depend on the EMA: same weights with and without it
    for (const [path, w] of off.weights) expect(on.weights.get(path), path).toEqual(w);
  });

  it('resumes exactly after a mid-epoch cancel: AdamW moments, EMA and the mixing draws all continue', async () => {
    const reference = await run({ ...recipe, checkpointDir: tempDir() });
    const dir = tempDir();
    const cancelled = await run({ ...recipe, checkpointDir: dir }, { cancelAtStep: 15 });
    expect(cancelled.status).toBe('cancelled');
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 1, batchInEpoch: 5 });
    const resumed = await run({ ...recipe, checkpointDir: dir, resume: true });
    expect(resumed.status).toBe('finished');
    for (const [path, w] of reference.weights) expect(resumed.weights.get(path), path).toEqual(w);
    expect(withoutTimes(resumed.history)).toEqual(withoutTimes(reference.history));
  });

  it('refuses to resume an SGD checkpoint as AdamW', async () => {
    const dir = tempDir();
    await run({ epochs: 1, checkpointDir: dir });
    await expect(run({ epochs: 1, optimizer: 'adamw', checkpointDir: dir, resume: true })).rejects.toThrow(/different run \(optimizer: checkpoint default, spec "adamw"\)/);
  });

  it('refuses a norm weight decay SGD cannot apply, and accumulation under DP-SGD, naming the fields', async () => {
    await expect(run({ epochs: 1, normWeightDecay: 0 })).rejects.toThrow(/normWeightDecay \(0\) differs from weightDecay \(0.0005\).*--optimizer adamw/);
    await expect(run({ epochs: 1, accumulate: 2, dp: { logicalBatch: 20 } })).rejects.toThrow(/--accumulate 2 cannot be combined with --dp/);
  });
});

describe('checkpoints written before the recipe fields existed', () => {
  it('still resume, bit for bit, under a spec that has the new fields at their defaults', async () => {
    const spec = { seed: 2, epochs: 2, checkpointEvery: 1 };
    const reference = await run({ ...spec, checkpointDir: tempDir() });
    const dir = tempDir();
    // cancelled during the first evaluation: the checkpoint sits after the epoch's last batch
    await run({ ...spec, checkpointDir: dir }, { cancelAtStep: 10 });
    const written = listCheckpoints(dir)[0];
    expect(written).toMatchObject({ epoch: 0, batchInEpoch: 10 });
    // rewrite it as the trainer before this change wrote it: no new spec fields, no optimizer kind, the old hash
    const old = readCheckpoint(written.path);
    const newFields: (keyof RunSpec)[] = ['optimizer', 'adamBeta1', 'adamBeta2', 'adamEps', 'labelSmoothing', 'mixupAlpha', 'cutmixAlpha', 'modelEma',
      'emaDecay', 'emaSteps', 'accumulate', 'autoAugment', 'randomErasing', 'raReps', 'cropSize', 'scaleRange'];
    const oldSpec: Partial<RunSpec> = { ...old.header.spec };
    for (const k of newFields) delete oldSpec[k];
    const { backend: _b, checkpointDir: _c, checkpointEvery: _e, resume: _r, statsEvery: _s, progressEvery: _p, preset: _pr, runId: _id, ...oldConfig } = oldSpec;
    const content: CheckpointContent = {
      ...old.header, spec: oldSpec as RunSpec, optimizer: { initialized: old.header.optimizer.initialized },
      configHash: createHash('sha256').update(canonicalJson(oldConfig)).digest('hex'),
    };
    writeFileSync(written.path, encodeCheckpoint(content, [...old.tensors.values()]));
    const resumed = await run({ ...spec, checkpointDir: dir, resume: true });
    expect(resumed.events.find((e) => e.event === 'started')).toMatchObject({ resumedFromEpoch: 0 });
    for (const [path, w] of reference.weights) expect(resumed.weights.get(path), path).toEqual(w);
  });
});

describe('gradient accumulation', () => {
  const small = () => blobDataset({ side: 8, trainSize: 48, testSize: 16 });
  const registryModel = (name: string) => (numClasses: number, seed: number) =>
    createModel(name, { numClasses, lowResolution: true, widthMultiplier: 0.0625, seed });
  const sgd = { epochs: 1, lr: 0.05, momentum: 0.9, augment: false, statsEvery: 0, seed: 5 };

  function maxRelativeDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
    let worst = 0;
    for (const [path, wa] of a) {
      const wb = b.get(path);
      if (!wb) throw new Error(`no ${path}`);
      for (let i = 0; i < wa.length; i++) worst = Math.max(worst, Math.abs((wa[i] ?? 0) - (wb[i] ?? 0)) / (Math.abs(wa[i] ?? 0) + 1e-3));
    }
    return worst;
  }

  it('2 micro-batches of b equal one batch of 2b for a norm-free model (cnn), to float tolerance', async () => {
    const opts = { model: registryModel('cnn'), dataset: small };
    const big = await run({ ...sgd, batchSize: 16 }, opts);
    const accumulated = await run({ ...sgd, batchSize: 8, accumulate: 2 }, opts);
    const plain = await run({ ...sgd, batchSize: 8 }, opts);
    expect(accumulated.history[0]?.train_loss).toBeCloseTo(big.history[0]?.train_loss ?? NaN, 5);
    expect(maxRelativeDifference(accumulated.weights, big.weights)).toBeLessThan(1e-4);
    // and it is not merely training that ignores the batch size: batch 8 without accumulation differs
    expect(maxRelativeDifference(plain.weights, big.weights)).toBeGreaterThan(1e-2);
  });

  it('differs from one batch of 2b with BatchNorm, whose statistics are per micro-batch', async () => {
    const opts = { model: registryModel('resnet18_bn'), dataset: small };
    const big = await run({ ...sgd, batchSize: 16 }, opts);
    const accumulated = await run({ ...sgd, batchSize: 8, accumulate: 2 }, opts);
    expect(maxRelativeDifference(accumulated.weights, big.weights)).toBeGreaterThan(1e-3);
  });

  it('counts optimizer steps, not micro-batches, and resumes exactly between them', async () => {
    const spec = { ...sgd, epochs: 2, batchSize: 8, accumulate: 2, statsEvery: 1, checkpointEvery: 1 };
    const opts = { dataset: small, model: (numClasses: number, seed: number) => tinyModel(numClasses, seed, 8) };
    const reference = await run({ ...spec, checkpointDir: tempDir() }, opts);
    const steps = reference.events.filter((e) => e.event === 'norm_stats').length;
    expect(steps).toBe(6);
    const dir = tempDir();
    await run({ ...spec, checkpointDir: dir }, { ...opts, cancelAtStep: 4 });
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 1, batchInEpoch: 1 });
    const resumed = await run({ ...spec, checkpointDir: dir, resume: true }, opts);
    for (const [path, w] of reference.weights) expect(resumed.weights.get(path), path).toEqual(w);
  });
});
