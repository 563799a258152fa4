import type { Command } from 'commander';
import { NormLabService } from '../../api/service';
import { ExperimentStore } from '../../store/experiment-store';
import { allowedActions, transitionSources } from '../../store/run-states';
import { UsageError } from '../option-parsers';

export function register(program: Command): void {
  program
    .command('retry')
    .description(`put a run back in the queue (only a ${transitionSources('queued').join(', ')} run); a running scheduler picks it up`)
    .argument('<run>', 'run id')
    .requiredOption('--db <file>', 'experiment store (SQLite file)')
    .action(async (runArg: string, opts: { db: string }) => {
      if (!/^\d+$/.test(runArg)) throw new UsageError(`RUN must be a run id (a positive integer), not "${runArg}"`);
      const store = ExperimentStore.open(opts.db);
      try {
        const service = new NormLabService(store);
        const before = (await service.getRun(Number(runArg))).run;
        // the service checks the state machine (run-states.ts) and throws the store's reason when it refuses
        const run = await service.retry(before.id);
        process.stdout.write(
          `run ${run.id} (${run.model}, was ${before.status}) is queued again in ${opts.db}; ` +
            `the next \`normlab sweep\` of its sweep or \`normlab serve --db ${opts.db}\` picks it up\n`,
        );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const run = store.getRun(Number(runArg));
        const hint = run && allowedActions(run.status).length === 0 ? ` (a ${run.status} run cannot be retried)` : '';
        throw new Error(`retry refused: ${message}${hint}`);
      } finally {
        store.close();
      }
    });
}
