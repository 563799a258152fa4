import { ExperimentStore } from '../../src-main/store';
import { expandSweepTemplate } from '../../src-main/sweeps/templates';

/**
 * A store holding a few finished runs of the paper-table1 template at the paper's width and epochs, written
 * through the real ExperimentStore the way the scheduler writes them, so the Table 1 view has "ours" cells to show.
 * Only the cells below get runs; every other configuration stays "not run".
 */
export const TABLE1_FIXTURE_RESULTS: { model: string; batchSize: number; finals: (number | 'failed')[] }[] = [
  { model: 'knresnet18', batchSize: 2, finals: [0.7, 0.72, 0.71] },
  { model: 'resnet18_bn', batchSize: 2, finals: [0.3, 0.34, 0.32] },
  { model: 'resnet18_gn', batchSize: 32, finals: [0.6, 0.62, 'failed'] },
];

export function populateTable1FixtureStore(file: string, dataDir: string): { runIds: number[] } {
  const { specs, runs } = expandSweepTemplate('paper-table1', { dataDir });
  const store = ExperimentStore.open(file);
  const runIds: number[] = [];
  try {
    for (const { model, batchSize, finals } of TABLE1_FIXTURE_RESULTS) {
      const mine = runs.filter((r) => r.spec.model === model && r.spec.batchSize === batchSize);
      const sweepSpec = specs.find((s) => s.name === mine[0]?.sweep);
      if (!sweepSpec) throw new Error(`the template has no run of ${model} at batch ${batchSize}`);
      const { sweep } = store.upsertSweep({ name: sweepSpec.name, spec: sweepSpec });
      const added = store.addRuns(sweep.id, mine.map((r) => r.spec));
      added.runs.forEach((run, i) => {
        const final = finals[i];
        store.markRunning(run.id, 'cuda:0');
        store.apply(run.id, { event: 'started', backend: 'tensorflow-gpu', device: 'cuda:0', skippedBackends: [], resumedFromEpoch: 0, numParams: 11_000_000 });
        if (final === 'failed') {
          store.failRun(run.id, 'worker process exited with code 1 before finishing', 'Error: out of memory');
          return;
        }
        store.apply(run.id, {
          event: 'epoch', epoch: 150,
          metrics: { train_loss: 0.5, train_acc: final + 0.2, test_loss: 1.2, test_acc: final, test_acc5: Math.min(1, final + 0.2), lr: 0.0001, epoch_time_s: 30, images_per_s: 1700, num_tensors: 500 },
        });
        store.apply(run.id, {
          event: 'done', status: 'finished',
          metrics: { test_acc: final, test_acc5: Math.min(1, final + 0.2), test_loss: 1.2, train_loss: 0.5, train_acc: final + 0.2, best_test_acc: final + 0.005, epochs_completed: 150 },
        });
        runIds.push(run.id);
      });
    }
    return { runIds };
  } finally {
    store.close();
  }
}
