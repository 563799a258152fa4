import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpochMetrics, WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';
import { listCheckpoints, readCheckpoint } from '../../../src-worker/train/checkpoint';
import { executeRun } from '../../../src-worker/train/run';

// The registry's ConvNeXts through the real worker path (executeRun), on the built-in synthetic set, on wasm.
const scratch = mkdtempSync(join(tmpdir(), 'normlab-convnext-recipe-'));
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  process.env.XDG_CACHE_HOME = join(scratch, 'cache');
});
afterAll(() => {
  process.env.XDG_CACHE_HOME = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

// the convnext-paper recipe's training pieces at a 1/16 width and a few steps
const recipe: RunSpecInput = {
  model: 'convnext_tiny', dataset: 'synthetic', epochs: 2, batchSize: 32, lr: 2e-3, backend: 'wasm', width: 0.0625,
  syntheticTrainSize: 128, syntheticTestSize: 64, statsEvery: 0, progressEvery: 2,
  optimizer: 'adamw', weightDecay: 0.05, normWeightDecay: 0, labelSmoothing: 0.1, mixupAlpha: 0.2, cutmixAlpha: 1.0,
  modelEma: true, emaSteps: 1, schedule: { kind: 'warmup-cosine', warmupEpochs: 1 },
};

async function train(spec: RunSpecInput) {
  const events: WorkerEvent[] = [];
  const result = await executeRun(spec, { emit: (e) => events.push(e), isCancelled: () => false });
  return { ...result, events };
}

describe('ConvNeXt-Tiny and KNConvNeXt-Tiny with the recipe switched on', () => {
  for (const model of ['convnext_tiny', 'knconvnext_tiny']) {
    it(`${model}: two epochs of AdamW, mixup/cutmix, label smoothing, EMA and warm-up cosine, recording test_acc_ema`, async () => {
      const dir = join(scratch, model);
      const r = await train({ ...recipe, model, checkpointDir: dir });
      expect(r.status).toBe('finished');
      const history = r.outcome?.history ?? [];
      expect(history).toHaveLength(2);
      for (const m of history as (EpochMetrics & { test_acc_ema?: number })[]) {
        expect(Number.isFinite(m.train_loss)).toBe(true);
        expect(m.test_acc_ema).toBeGreaterThanOrEqual(0);
        expect(m.test_acc_ema).toBeLessThanOrEqual(1);
      }
      expect(history.map((m) => m.lr)).toEqual([2e-5, 2e-3]);
      const epochEvents = r.events.filter((e) => e.event === 'epoch');
      expect(epochEvents.every((e) => e.event === 'epoch' && 'test_acc_ema' in e.metrics)).toBe(true);
      const ckpt = readCheckpoint(listCheckpoints(dir)[0].path);
      expect(ckpt.header.optimizer).toMatchObject({ kind: 'adamw', adamwSteps: 8 });
      expect(ckpt.header.ema).toEqual({ updates: 4 });
    }, 240_000);
  }
});
