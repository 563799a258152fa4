import { ExperimentStore } from '../../src-main/store';
import { parseRunSpec } from '../../src-worker/run-spec';
import type { DistributionSummary, NormLayerStats } from '../../src-worker/kn/stats';

/**
 * A store with a small, finished KN-vs-BN/GN/LN study written through the real ExperimentStore, the way the
 * scheduler writes it (started → epochs → norm_stats → checkpoint → done), plus one failed and one queued run.
 * Accuracies follow a fixed formula per model so the tests can assert the aggregates.
 */
export const FIXTURE_MODELS = ['knresnet18', 'resnet18_bn', 'resnet18_gn', 'resnet18_ln'] as const;
export const FIXTURE_BATCHES = [32, 128] as const;
export const FIXTURE_SEEDS = [1, 2, 3] as const;
export const FIXTURE_EPOCHS = 3;
const BASE_ACC: Record<string, number> = { knresnet18: 0.8, resnet18_bn: 0.78, resnet18_gn: 0.74, resnet18_ln: 0.72 };

/** The final test accuracy the fixture gives a run; tests recompute means from it. */
export function fixtureFinalAcc(model: string, batchSize: number, seed: number): number {
  return BASE_ACC[model] - (batchSize === 128 ? 0.02 : 0) + seed * 0.005;
}

function summary(center: number, spread: number, step: number): DistributionSummary {
  const counts = Array.from({ length: 16 }, (_, i) => Math.round(100 * Math.exp(-(((i - 8 + step / 100) / 3) ** 2))));
  return {
    mean: center, std: spread, min: center - 3 * spread, max: center + 3 * spread,
    percentiles: [center - 2 * spread, center - spread, center, center + spread, center + 2 * spread],
    histogram: { lo: center - 3 * spread, hi: center + 3 * spread, counts },
  };
}

function layerStats(model: string, step: number): NormLayerStats[] {
  const kind = model.startsWith('kn') ? 'kn' : (model.split('_')[1] as 'bn' | 'gn' | 'ln');
  return ['layer1.0.conv1', 'layer2.0.conv1'].map((layer, i) => ({
    layer, kind, mean: summary(0.1 * (i + 1) - step / 1000, 0.05 + step / 5000, step), std: summary(1 + step / 500, 0.1, step),
  }));
}

export function populateFixtureStore(file: string): { sweepId: number; runIds: number[]; failedRunId: number; queuedRunId: number } {
  const store = ExperimentStore.open(file);
  try {
    const specs = FIXTURE_SEEDS.flatMap((seed) =>
      FIXTURE_MODELS.flatMap((model) =>
        FIXTURE_BATCHES.map((batchSize) =>
          parseRunSpec({ model, dataset: 'synthetic', epochs: FIXTURE_EPOCHS, batchSize, lr: 0.1, seed, syntheticTrainSize: 512 }),
        ),
      ),
    );
    const { sweep } = store.upsertSweep({ name: 'fixture-kn-vs-bn', spec: { name: 'fixture-kn-vs-bn' } });
    const added = store.addRuns(sweep.id, specs);
    const runIds = added.runs.map((r) => r.id);
    for (const id of runIds) {
      const run = store.getRun(id)!;
      store.markRunning(id, 'cpu:0');
      store.apply(id, { event: 'started', backend: 'wasm', device: 'cpu', skippedBackends: [], resumedFromEpoch: 0, numParams: 11_000_000 });
      const final = fixtureFinalAcc(run.model, run.batchSize, run.seed);
      for (let epoch = 1; epoch <= FIXTURE_EPOCHS; epoch++) {
        const acc = final - (FIXTURE_EPOCHS - epoch) * 0.1;
        store.apply(id, {
          event: 'epoch', epoch,
          metrics: { train_loss: 2 / epoch, train_acc: acc + 0.05, test_loss: 2.2 / epoch, test_acc: acc, test_acc5: Math.min(1, acc + 0.15), lr: 0.1 / epoch, epoch_time_s: 3, images_per_s: 170, num_tensors: 500 },
        });
        store.apply(id, { event: 'norm_stats', epoch, step: epoch * 16, layers: layerStats(run.model, epoch * 16) });
      }
      store.apply(id, { event: 'checkpoint', epoch: FIXTURE_EPOCHS, path: `/tmp/ckpt/run-${id}/epoch-${FIXTURE_EPOCHS}`, reason: 'final' });
      store.apply(id, { event: 'log', level: 'info', message: `fixture run ${id} trained` });
      store.apply(id, {
        event: 'done', status: 'finished',
        metrics: { test_acc: final, test_acc5: Math.min(1, final + 0.15), test_loss: 0.7, train_loss: 0.6, train_acc: final + 0.05, best_test_acc: final + 0.004, epochs_completed: FIXTURE_EPOCHS },
      });
    }
    const extra = store.addRuns(sweep.id, [
      parseRunSpec({ model: 'resnet18_bn', dataset: 'synthetic', epochs: FIXTURE_EPOCHS, batchSize: 32, lr: 0.4, seed: 1 }),
      parseRunSpec({ model: 'resnet18_bn', dataset: 'synthetic', epochs: FIXTURE_EPOCHS, batchSize: 32, lr: 0.8, seed: 1 }),
    ]);
    const failedRunId = extra.runs[0].id;
    const queuedRunId = extra.runs[1].id;
    store.markRunning(failedRunId, 'cpu:1');
    store.failRun(failedRunId, 'worker process exited with code 1 before finishing', 'Error: out of memory');
    return { sweepId: sweep.id, runIds, failedRunId, queuedRunId };
  } finally {
    store.close();
  }
}
