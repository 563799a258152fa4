import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { SweepSpecArg } from '../../api/schemas';
import { openRuntime } from '../../runtime';
import { ExecutorSpecError, resolveExecutorSpec, slurmSchedulerOptions, type ExecutorFlags, type ExecutorSpec } from '../../slurm/executor-spec';
import { positiveInt, UsageError } from '../option-parsers';
import { formatAggregateTable, formatPercent, formatStatusSummary, runSweepUntilSignalled, type SweepReporter } from '../sweep-runner';

interface SweepOptions extends ExecutorFlags {
  db: string;
  workers?: number;
  workersPerGpu: number;
  checkpointRoot?: string;
  json?: boolean;
}

function readSpec(file: string): SweepSpecArg {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read sweep spec ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`sweep spec ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new UsageError(`sweep spec ${file} must hold a JSON object`);
  return spec as SweepSpecArg;
}

/** The executor the spec's `executor` block and the flags ask for; a bad one is a usage error, before the store is touched. */
function executorFor(spec: SweepSpecArg, flags: ExecutorFlags): ExecutorSpec {
  try {
    return resolveExecutorSpec(spec.executor, flags);
  } catch (err) {
    if (err instanceof ExecutorSpecError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function jsonReporter(): SweepReporter {
  const out = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
  return {
    submitted: (result, recovered) => out({ event: 'sweep_submitted', ...result, recovered }),
    event: (runId, event) => {
      if (event.event !== 'norm_stats') out({ ...event, runId });
    },
    runEnded: (run, done, total) =>
      out({ event: 'run_ended', runId: run.id, status: run.status, finalTestAcc: run.finalTestAcc, errorReason: run.errorReason, done, total }),
    lease: (state) => out({ event: 'lease', state: state.state, ...(state.state === 'waiting' ? { holder: { pid: state.holder.pid, host: state.holder.host } } : {}) }),
  };
}

function textReporter(): SweepReporter {
  const say = (line: string) => process.stderr.write(line + '\n');
  let waited = false;
  return {
    submitted: (r, recovered) => {
      say(`sweep "${r.name}" (#${r.sweepId}): ${r.runs.total} runs in ${r.groups} config groups, ${r.runs.created} new, ${r.runs.existing} already in the store`);
      if (recovered > 0) say(`resuming ${recovered} run(s) interrupted by an earlier exit`);
    },
    event: (runId, event) => {
      if (event.event === 'started') say(`run ${runId}: started on ${event.device} (${event.backend})${event.resumedFromEpoch > 0 ? `, resuming after epoch ${event.resumedFromEpoch}` : ''}`);
      if (event.event === 'epoch') {
        const m = event.metrics;
        const privacy = m.epsilon === undefined ? '' : ` ε ${m.epsilon.toFixed(2)}`;
        say(`run ${runId}: epoch ${event.epoch} test top-1 ${formatPercent(m.test_acc)}% loss ${m.train_loss.toFixed(3)} ${m.images_per_s.toFixed(1)} img/s${privacy}`);
      }
      if (event.event === 'error') say(`run ${runId}: error: ${event.reason}`);
      // the executor's word on where a run is (Slurm job submitted, pending and why, the node it runs on)
      if (event.event === 'log' && /^(submitted as Slurm job|Slurm job \d+ (pending|running on)|Slurm requeued|a restarted manager)/.test(event.message)) say(`run ${runId}: ${event.message}`);
    },
    runEnded: (run, done, total) => {
      const detail = run.status === 'finished' ? `test top-1 ${formatPercent(run.finalTestAcc)}%` : (run.errorReason ?? '');
      say(`run ${run.id} (${run.model}, seed ${run.seed}) ${run.status}${detail ? `: ${detail}` : ''}  [${done}/${total}]`);
    },
    lease: (state) => {
      if (state.state === 'waiting') {
        waited = true;
        say(`waiting: this store is scheduled by pid ${state.holder.pid} on host ${state.holder.host}; this sweep's runs are queued there, and this command takes over if that process stops`);
      } else if (state.state === 'held' && waited) {
        say('the other process has stopped: this command schedules the runs now');
      }
    },
  };
}

export function register(program: Command): void {
  program
    .command('sweep')
    .description('run a sweep spec to the end on this machine\'s GPUs (or CPU slots), or as Slurm jobs; resumes interrupted runs')
    .argument('<spec>', 'sweep spec (JSON file)')
    .requiredOption('--db <file>', 'experiment store (SQLite file, created if missing)')
    .option('--workers <n>', 'worker processes when running on CPU (default: one per core)', positiveInt)
    .option('--workers-per-gpu <n>', 'worker processes per GPU', positiveInt, 1)
    .option('--checkpoint-root <dir>', 'where run checkpoints go (default: next to the DB)')
    .option('--json', 'one JSON event per line on stdout')
    .option('--executor <kind>', 'where runs train: local (this machine) or slurm (one batch job per run); default: the spec\'s executor, else local')
    .option('--partition <name>', 'Slurm: sbatch --partition')
    .option('--gres <gres>', 'Slurm: sbatch --gres, e.g. gpu:1')
    .option('--time <limit>', 'Slurm: sbatch --time, e.g. 04:00:00')
    .option('--account <name>', 'Slurm: sbatch --account')
    .option('--qos <name>', 'Slurm: sbatch --qos')
    .option('--sbatch-arg <flag>', 'Slurm: one more sbatch flag, e.g. --constraint=a100 (repeatable)', collect)
    .option('--max-jobs <n>', 'Slurm: at most this many jobs queued or running at once (default 50)', positiveInt)
    .option('--workdir <dir>', 'Slurm: run folders on storage the nodes share (default: runs/ next to the DB)')
    .action(async (specFile: string, opts: SweepOptions) => {
      const spec = readSpec(specFile);
      const executor = executorFor(spec, opts);
      const json = opts.json === true;
      const print = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
      const runtime = await openRuntime({
        dbFile: opts.db,
        checkpointRoot: opts.checkpointRoot,
        startScheduler: false,
        executor:
          executor.kind === 'slurm'
            ? { ...slurmSchedulerOptions(executor, opts.db), onSubmitted: (runId, jobId) => json && print({ runId, event: 'submitted', jobId }) }
            : undefined,
        devices: {
          cpuSlots: opts.workers,
          slotsPerGpu: opts.workersPerGpu,
        },
      });
      try {
        const outcome = await runSweepUntilSignalled(runtime, spec, opts.json ? jsonReporter() : textReporter(), () =>
          process.stderr.write('stopping: running workers checkpoint and stop; run the same command again to resume (interrupt again to quit at once)\n'),
        );
        if (opts.json) {
          process.stdout.write(JSON.stringify({ event: 'sweep_done', sweepId: outcome.sweepId, allFinished: outcome.allFinished, aggregates: outcome.aggregates }) + '\n');
        } else {
          process.stdout.write(formatAggregateTable(outcome.aggregates) + '\n');
          process.stderr.write(`${outcome.runs.length} runs: ${formatStatusSummary(outcome.runs)}\n`);
          for (const run of outcome.runs.filter((r) => r.status !== 'finished')) {
            process.stderr.write(`  run ${run.id} (${run.model}, seed ${run.seed}) ${run.status}: ${run.errorReason ?? ''}\n`);
          }
        }
        if (!outcome.allFinished) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    });
}
