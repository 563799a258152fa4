import { parseArgs } from 'node:util';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { createSlurmScheduler } from '../../src-main/slurm/slurm-scheduler';

/**
 * A NormLab manager in its own process, for the kill -9 test: places the store's queued runs on the test cluster
 * and prints one JSON line per submission and per event, then exits 0 once nothing is queued or placed.
 *
 *   node --import tsx test/slurm/manager.ts --db FILE --root DIR
 */
const { values } = parseArgs({ options: { db: { type: 'string' }, root: { type: 'string' } } });
if (!values.db || !values.root) throw new Error('usage: manager.ts --db FILE --root DIR');

const store = ExperimentStore.open(values.db);
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const { policy } = createSlurmScheduler(store, {
  checkpointRoot: values.root, pollMs: 500, gres: 'gpu:1', time: '10', settleMs: 1000, leaseStaleMs: 2000,
  onSubmitted: (runId, jobId) => print({ runId, event: 'submitted', jobId, at: Date.now() }),
});
policy.on('event', (runId, event) => print({ ...event, runId, ingestedAt: Date.now() }));
policy.start();
const timer = setInterval(() => {
  if (!policy.isIdle()) return;
  clearInterval(timer);
  void policy.stop().then(() => {
    store.close();
    process.exit(0);
  });
}, 300);
