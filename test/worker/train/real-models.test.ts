import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';
import { listCheckpoints, readCheckpoint } from '../../../src-worker/train/checkpoint';
import { executeRun, type RunResult } from '../../../src-worker/train/run';

// The registry's models on the built-in synthetic set (10 classes, chance 10%), on wasm as in CI.
const scratch = mkdtempSync(join(tmpdir(), 'normlab-real-'));
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  process.env.XDG_CACHE_HOME = join(scratch, 'cache');
});
afterAll(() => {
  process.env.XDG_CACHE_HOME = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

const base: RunSpecInput = {
  model: 'kn_cnn', dataset: 'synthetic', epochs: 2, batchSize: 32, lr: 0.05, backend: 'wasm',
  syntheticTrainSize: 1024, syntheticTestSize: 256, statsEvery: 8, checkpointEvery: 1,
};

async function train(spec: RunSpecInput, cancelAtBatch?: number): Promise<RunResult & { events: WorkerEvent[] }> {
  const events: WorkerEvent[] = [];
  let batches = 0;
  const result = await executeRun(spec, {
    emit: (e) => {
      events.push(e);
      if (e.event === 'progress') batches = e.batch;
    },
    isCancelled: () => cancelAtBatch !== undefined && batches >= cancelAtBatch,
  });
  return { ...result, events };
}

function finalWeights(dir: string): Map<string, Float32Array | Int32Array> {
  const ckpt = readCheckpoint(listCheckpoints(dir)[0].path);
  return new Map([...ckpt.tensors].filter(([name]) => name.startsWith('var:')).map(([name, t]) => [name, t.values]));
}

describe('training the registry models on the synthetic set', () => {
  it('kn_cnn (KernelNorm) learns far above chance, with flat tensor counts and norm stats', async () => {
    const r = await train({ ...base, epochs: 2, checkpointDir: join(scratch, 'kn') });
    expect(r.status).toBe('finished');
    const epochs = r.outcome!.history;
    expect(r.outcome!.metrics.test_acc).toBeGreaterThan(0.3);
    expect(new Set(epochs.map((m) => m.num_tensors)).size).toBe(1);
    const stats = r.events.filter((e) => e.event === 'norm_stats');
    expect(stats.length).toBeGreaterThan(0);
    expect(stats[0]).toMatchObject({ layers: [{ kind: 'kn' }, { kind: 'kn' }] });
  });

  it('resnet18_bn (BatchNorm) at width 1/16 learns far above chance', async () => {
    const r = await train({ ...base, model: 'resnet18_bn', width: 0.0625, epochs: 2, lr: 0.1, statsEvery: 0 });
    expect(r.status).toBe('finished');
    // BatchNorm's running statistics lag after only 64 steps; 30.5% measured for this seed and backend
    expect(r.outcome!.metrics.test_acc).toBeGreaterThan(0.22);
  });

  it('a KernelNorm run cancelled mid-epoch and resumed ends with bitwise the same weights (dropout included)', async () => {
    // 4 batches per epoch; cancelled before batch 4 of epoch 1
    const spec = { ...base, syntheticTrainSize: 128, syntheticTestSize: 64, progressEvery: 1, knDropout: 0.1 };
    const whole = await train({ ...spec, checkpointDir: join(scratch, 'whole') });
    const dir = join(scratch, 'interrupted');
    const cancelled = await train({ ...spec, checkpointDir: dir }, 3);
    expect(listCheckpoints(dir)[0]).toMatchObject({ epoch: 0, batchInEpoch: 3 });
    expect(cancelled.status).toBe('cancelled');
    const resumed = await train({ ...spec, checkpointDir: dir, resume: true });
    expect(resumed.status).toBe('finished');
    const a = finalWeights(join(scratch, 'whole'));
    const b = finalWeights(dir);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, values] of a) expect(b.get(name), name).toEqual(values);
    expect(resumed.outcome!.metrics.test_loss).toBe(whole.outcome!.metrics.test_loss);
  });

  it('an absurd learning rate ends as diverged, not as a crash', async () => {
    const r = await train({ ...base, model: 'cnn', lr: 1e8, schedule: { kind: 'constant' }, momentum: 0, weightDecay: 0 });
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe('diverged');
    expect(r.events.at(-1)).toMatchObject({ event: 'done', status: 'diverged' });
  });
});
