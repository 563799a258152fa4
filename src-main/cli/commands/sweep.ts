import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SweepSpecArg } from '../../api/schemas';
import type { NormLabRuntime } from '../../runtime';
import { openRuntime } from '../../runtime';
import type { SchedulingPolicy } from '../../scheduler/policy';
import { ExecutorSpecError, resolveExecutorSpec, slurmSchedulerOptions, type ExecutorFlags, type ExecutorSpec } from '../../slurm/executor-spec';
import type { GroupAggregate, RunRecord } from '../../store/types';
import { expandSweep } from '../../sweeps/expand';
import { parseSweepSpec } from '../../sweeps/spec';
import { expandSweepTemplate, SweepTemplateError, type SweepTemplateOptions, type TemplateRun } from '../../sweeps/templates';
import { positiveInt, UsageError } from '../option-parsers';
import { formatAggregateTable, formatPercent, formatStatusSummary, runSweepUntilSignalled, type SweepOutcome, type SweepReporter } from '../sweep-runner';

interface SweepOptions extends ExecutorFlags {
  db?: string;
  workers?: number;
  workersPerGpu: number;
  checkpointRoot?: string;
  json?: boolean;
  template?: string;
  width?: number;
  epochs?: number;
  dataDir?: string;
  dryRun?: boolean;
  queueOnly?: boolean;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** What to submit: a spec file's sweep, or the sweep(s) a template makes. */
interface SweepRequest {
  specs: SweepSpecArg[];
  /** The runs the specs expand to (for --dry-run; submitting expands them again, with its checks). */
  runs(): TemplateRun[];
  template?: { name: string; options: SweepTemplateOptions };
}

/** Exactly one of a spec file and --template; --width/--epochs/--data-dir only shape a template. */
function sweepRequest(specFile: string | undefined, opts: SweepOptions): SweepRequest {
  if (specFile !== undefined && opts.template !== undefined) throw new UsageError('give a sweep spec file or --template, not both');
  if (opts.template === undefined) {
    if (specFile === undefined) throw new UsageError('missing the sweep spec: give a JSON file, or --template <name> for a built-in one (paper-table1)');
    const given = (['width', 'epochs', 'dataDir'] as const).filter((k) => opts[k] !== undefined);
    if (given.length > 0) throw new UsageError(`${given.map(flagOf).join(', ')} only apply with --template; set them in the spec file's base`);
    const raw = readSpec(specFile);
    return {
      specs: [raw],
      runs: () => {
        const spec = parseSweepSpec(raw);
        return expandSweep(spec).runs.map((run) => ({ sweep: spec.name, spec: run }));
      },
    };
  }
  // the runs read their data where the store keeps it unless told otherwise, as `normlab serve` does
  const dataDir = opts.dataDir ?? (opts.db === undefined ? undefined : join(dirname(resolve(opts.db)), 'data'));
  const options: SweepTemplateOptions = { width: opts.width, epochs: opts.epochs, dataDir: dataDir === undefined ? undefined : resolve(dataDir) };
  try {
    const expansion = expandSweepTemplate(opts.template, options);
    return { specs: expansion.specs, runs: () => expansion.runs, template: { name: expansion.template, options } };
  } catch (err) {
    if (err instanceof SweepTemplateError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** --dry-run: the runs as they would be queued, one per line; nothing is opened or written. */
function printDryRun(request: SweepRequest, json: boolean): void {
  if (json) {
    for (const { sweep, spec } of request.runs()) process.stdout.write(JSON.stringify({ sweep, ...spec }) + '\n');
    return;
  }
  const header = ['sweep', 'model', 'batch', 'lr', 'seed', 'epochs', 'width'];
  const rows = request.runs().map(({ sweep, spec }) => [sweep, spec.model, String(spec.batchSize), String(spec.lr), String(spec.seed), String(spec.epochs), String(spec.width)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const cells of [header, ...rows]) process.stdout.write(cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n');
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

type Runtime = NormLabRuntime<SchedulingPolicy>;

/** All of a template's sweeps into the queue at once, so the scheduler sees every run from the start. */
async function queueTemplate(runtime: Runtime, template: NonNullable<SweepRequest['template']>, json: boolean): Promise<void> {
  const result = await runtime.service.submitSweepTemplate(template.name, template.options);
  if (json) {
    const sweeps = result.sweeps.map((s) => ({ sweepId: s.sweepId, name: s.name, runs: s.runs.total }));
    process.stdout.write(JSON.stringify({ event: 'template_submitted', template: result.template, runs: result.runs, sweeps }) + '\n');
    return;
  }
  const { total, created, existing } = result.runs;
  process.stderr.write(`template ${result.template}: ${total} runs in ${result.sweeps.length} sweep${result.sweeps.length === 1 ? '' : 's'}, ${created} new, ${existing} already in the store\n`);
}

async function queueSpecOnly(runtime: Runtime, spec: SweepSpecArg, json: boolean): Promise<void> {
  const r = await runtime.service.submitSweep(spec);
  if (json) process.stdout.write(JSON.stringify({ event: 'sweep_submitted', ...r, recovered: 0 }) + '\n');
  else process.stderr.write(`sweep "${r.name}" (#${r.sweepId}): ${r.runs.total} runs queued, ${r.runs.created} new\n`);
}

interface CombinedOutcome {
  sweepIds: number[];
  runs: RunRecord[];
  aggregates: GroupAggregate[];
  allFinished: boolean;
}

/** Each sweep to its end in turn; the scheduler trains whatever is queued meanwhile, so later ones are often done. */
async function runAllUntilSignalled(runtime: Runtime, specs: SweepSpecArg[], reporter: SweepReporter): Promise<CombinedOutcome> {
  const outcomes: SweepOutcome[] = [];
  for (const spec of specs) {
    outcomes.push(await runSweepUntilSignalled(runtime, spec, reporter, () =>
      process.stderr.write('stopping: running workers checkpoint and stop; run the same command again to resume (interrupt again to quit at once)\n'),
    ));
  }
  return {
    sweepIds: outcomes.map((o) => o.sweepId),
    runs: outcomes.flatMap((o) => o.runs),
    aggregates: outcomes.flatMap((o) => o.aggregates),
    allFinished: outcomes.every((o) => o.allFinished),
  };
}

export function register(program: Command): void {
  program
    .command('sweep')
    .description('run a sweep spec to the end on this machine\'s GPUs (or CPU slots), or as Slurm jobs; resumes interrupted runs')
    .argument('[spec]', 'sweep spec (JSON file); or --template <name>')
    .option('--db <file>', 'experiment store (SQLite file, created if missing); required unless --dry-run')
    .option('--template <name>', 'a built-in sweep template instead of a spec file: paper-table1 (the paper\'s CIFAR-100 Table 1, 189 runs)')
    .option('--width <w>', 'template: width multiplier of every run (default: the paper\'s, 1)', positiveNumber)
    .option('--epochs <n>', 'template: epochs of every run (default: the paper\'s)', positiveInt)
    .option('--data-dir <dir>', 'template: the data folder its runs read (default: data/ next to the DB)')
    .option('--dry-run', 'print the runs it would queue (with --json one JSON object per line) and write nothing')
    .option('--queue-only', 'queue the runs and exit; `normlab serve` or a later `normlab sweep` on the same DB trains them')
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
    .action(async (specFile: string | undefined, opts: SweepOptions) => {
      const request = sweepRequest(specFile, opts);
      if (opts.dryRun) {
        printDryRun(request, opts.json === true);
        process.stderr.write(`${request.runs().length} runs in ${request.specs.length} sweep${request.specs.length === 1 ? '' : 's'} (dry run: nothing was queued)\n`);
        return;
      }
      if (opts.db === undefined) throw new UsageError('--db <file> is required (the store the runs are queued in), unless --dry-run');
      const dbFile = opts.db;
      const executor = executorFor(request.specs[0], opts);
      const json = opts.json === true;
      const print = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
      const runtime = await openRuntime({
        dbFile,
        checkpointRoot: opts.checkpointRoot,
        startScheduler: false,
        executor:
          executor.kind === 'slurm'
            ? { ...slurmSchedulerOptions(executor, dbFile), onSubmitted: (runId, jobId) => json && print({ runId, event: 'submitted', jobId }) }
            : undefined,
        devices: {
          cpuSlots: opts.workers,
          slotsPerGpu: opts.workersPerGpu,
        },
      });
      try {
        if (request.template !== undefined) await queueTemplate(runtime, request.template, json);
        if (opts.queueOnly) {
          if (request.template === undefined) await queueSpecOnly(runtime, request.specs[0], json);
          return;
        }
        const outcome = await runAllUntilSignalled(runtime, request.specs, json ? jsonReporter() : textReporter());
        if (opts.json) {
          process.stdout.write(JSON.stringify({ event: 'sweep_done', ...(request.template ? { sweepIds: outcome.sweepIds } : { sweepId: outcome.sweepIds[0] }), allFinished: outcome.allFinished, aggregates: outcome.aggregates }) + '\n');
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
