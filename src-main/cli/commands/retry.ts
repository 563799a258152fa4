import type { Command } from 'commander';
import { NormLabService } from '../../api/service';
import type { RetryChanges } from '../../api/schemas';
import { ExperimentStore } from '../../store/experiment-store';
import { allowedActions, transitionSources } from '../../store/run-states';
import { finiteNumber, nonNegativeInt, positiveInt, UsageError } from '../option-parsers';

interface RetryFlags extends RetryChanges {
  db: string;
}

export function register(program: Command): void {
  program
    .command('retry')
    .description(
      `put a run back in the queue (only a ${transitionSources('queued').join(', ')} run); with --lr, --epochs or --seed, ` +
        'queue a new run in the same sweep with those changed instead ("clone and edit"), leaving the run as it was; ' +
        'a running scheduler picks it up',
    )
    .argument('<run>', 'run id')
    .requiredOption('--db <file>', 'experiment store (SQLite file)')
    .option('--lr <x>', 'learning rate of the new run', finiteNumber)
    .option('--epochs <n>', 'epochs of the new run', positiveInt)
    .option('--seed <n>', 'seed of the new run', nonNegativeInt)
    .action(async (runArg: string, { db, ...changes }: RetryFlags) => {
      if (!/^\d+$/.test(runArg)) throw new UsageError(`RUN must be a run id (a positive integer), not "${runArg}"`);
      const store = ExperimentStore.open(db);
      try {
        const service = new NormLabService(store);
        const before = (await service.getRun(Number(runArg))).run;
        // the service checks the state machine (run-states.ts) and throws the store's reason when it refuses
        const run = await service.retry(before.id, changes);
        const pickup = `the next \`normlab sweep\` of its sweep or \`normlab serve --db ${db}\` picks it up`;
        if (run.id === before.id) {
          process.stdout.write(`run ${run.id} (${run.model}, was ${before.status}) is queued again in ${db}; ${pickup}\n`);
        } else {
          const edits = Object.entries(changes).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${String(v)}`).join(', ');
          process.stdout.write(`run ${run.id} (${run.model}, ${edits}) is queued in ${db} as a clone of run ${before.id}, which stays ${before.status}; ${pickup}\n`);
        }
      } catch (err) {
        const run = store.getRun(Number(runArg));
        const hint = run && allowedActions(run.status).length === 0 ? ` (a ${run.status} run cannot be retried)` : '';
        if (err instanceof Error) err.message = `retry refused: ${err.message}${hint}`;
        throw err;
      } finally {
        store.close();
      }
    });
}
