import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { UsageError } from '../option-parsers';
import { flagOf, runFlagOptions, runInputFromFlags } from '../run-flags';
import type { FinalMetrics, WorkerEvent } from '../../../src-worker/protocol';
import { lrScheduleSchema, type RunSpecInput } from '../../../src-worker/run-spec';
import { PresetError, presetFields, resolvePreset } from '../../../src-worker/train/presets';
import { executeRun, type RunResult } from '../../../src-worker/train/run';

/**
 * `normlab train`: one run, in this process (the scheduler forks src-worker/main.ts instead).
 * Exit codes: 0 finished, 1 failed, 2 invalid request, 3 diverged, 130 cancelled (Ctrl-C).
 */
export const EXIT = { finished: 0, failed: 1, invalid: 2, diverged: 3, cancelled: 130, interrupted: 130 } as const;

/** A flag combination the run spec cannot express; reported like a bad flag value (exit 2). */
export class TrainUsageError extends UsageError {
  override name = 'TrainUsageError';
}

function hasDpPreset(name: unknown): boolean {
  if (typeof name !== 'string') return false;
  try {
    return presetFields(name).dp !== undefined;
  } catch {
    return false; // an unknown preset is reported by executeRun like any other invalid spec
  }
}

function scheduleFrom(schedule: { kind: string; params: Record<string, unknown> }): unknown {
  const asked = { kind: schedule.kind, ...schedule.params };
  // the schema fills the parameters not given (cosine decay 0.01, …); a bad one is left for executeRun to name
  const parsed = lrScheduleSchema.safeParse(asked);
  return parsed.success ? parsed.data : asked;
}

/**
 * The run spec the flags describe, resolved like every front end's (presets.ts): the preset's fields under the
 * flags, DP options refining the preset's, DP implying Mish and ε = 8. An unknown preset is left in for executeRun
 * to report.
 */
export function specInputFromOptions(options: Record<string, unknown>): Partial<RunSpecInput> {
  const flags = runInputFromFlags(options);
  const input: Record<string, unknown> = { ...flags.fields };
  if (flags.schedule) input.schedule = scheduleFrom(flags.schedule);
  if (flags.dp.on || hasDpPreset(input.preset)) {
    input.dp = flags.dp.given;
  } else {
    const given = Object.keys(flags.dp.given).map((key) => flagOf(`dp.${key}`));
    if (given.length > 0) throw new TrainUsageError(`${given.join(', ')}: DP-SGD options; add --dp (or --preset dp-paper)`);
  }
  let resolved = input as Partial<RunSpecInput>;
  try {
    resolved = resolvePreset(resolved);
  } catch (error) {
    if (!(error instanceof PresetError)) throw error;
  }
  if (resolved.dp && resolved.dp.logicalBatch === undefined) {
    throw new TrainUsageError('--dp needs --logical-batch N: the expected size of the Poisson-sampled batch (the paper uses 8192 on CIFAR-10)');
  }
  return resolved;
}

/** Turns `batchSize: expected number` into `--batch-size: expected number` so messages name the flag. */
export function withFlagNames(message: string): string {
  return message.replace(/^(\w+)(?=[:.[])/gm, (name) => '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()));
}

export function exitCodeOf(result: RunResult): number {
  return EXIT[result.status];
}

// DP runs report train_acc as NaN (not measured)
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');

export function formatFinal(m: FinalMetrics): string {
  return `test top-1 ${pct(m.test_acc)}, top-5 ${pct(m.test_acc5)}, test loss ${m.test_loss.toFixed(4)}, ` +
    `train loss ${m.train_loss.toFixed(4)}, train acc ${pct(m.train_acc)} after ${m.epochs_completed} epoch(s)`;
}

/** Renders events for a person: a progress bar on a terminal, plain lines otherwise. */
export function humanRenderer(out: NodeJS.WriteStream, err: NodeJS.WriteStream, totalEpochs: () => number): (e: WorkerEvent) => void {
  let bar: cliProgress.SingleBar | null = null;
  const line = (text: string) => {
    if (bar) bar.stop();
    bar = null;
    out.write(text + '\n');
  };
  return (e) => {
    switch (e.event) {
      case 'started':
        line(`backend ${e.backend} on ${e.device}, ${e.numParams.toLocaleString('en')} parameters` +
          (e.resumedFromEpoch > 0 ? `, resumed after epoch ${e.resumedFromEpoch}` : ''));
        break;
      case 'progress':
        if (!out.isTTY) break;
        if (!bar) {
          bar = new cliProgress.SingleBar({
            format: 'epoch {epoch}/{epochs} [{bar}] {value}/{total} batches | {ips} img/s | ETA {etaText} | loss {loss}',
            stream: out, hideCursor: true,
          }, cliProgress.Presets.shades_classic);
          bar.start(e.batchesPerEpoch, e.batch);
        }
        bar.update(e.batch, {
          epoch: e.epoch, epochs: totalEpochs(), ips: e.imagesPerSec.toFixed(1), loss: e.loss.toFixed(4),
          etaText: e.etaSec >= 3600 ? `${(e.etaSec / 3600).toFixed(1)}h` : e.etaSec >= 60 ? `${(e.etaSec / 60).toFixed(1)}m` : `${e.etaSec.toFixed(0)}s`,
        });
        break;
      case 'epoch': {
        const m = e.metrics;
        line(`epoch ${e.epoch}/${totalEpochs()}: train loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_acc)} | test loss ` +
          `${m.test_loss.toFixed(4)} top-1 ${pct(m.test_acc)} top-5 ${pct(m.test_acc5)} | lr ${m.lr.toPrecision(4)} | ` +
          `${m.images_per_s.toFixed(1)} img/s, ${m.epoch_time_s.toFixed(1)} s` + (m.epsilon !== undefined ? ` | ε ${m.epsilon.toFixed(3)}` : ''));
        break;
      }
      case 'checkpoint':
        line(`checkpoint (${e.reason}) ${e.path}`);
        break;
      case 'log':
        if (e.level !== 'info') line(`${e.level}: ${e.message}`);
        break;
      case 'error':
        if (bar) bar.stop();
        bar = null;
        err.write(`normlab train: ${withFlagNames(e.reason)}\n`);
        break;
      case 'done':
        if (e.status !== 'failed') line(`${e.status}: ${formatFinal(e.metrics)}`);
        break;
      // statistics and step-level points are for the store; a terminal shows epochs
      case 'norm_stats':
      case 'steps':
        break;
    }
  };
}

/** JSON lines on stdout; the last line is the done event. Other writers to stdout are moved to stderr. */
export function jsonRenderer(out: NodeJS.WritableStream): (e: object) => void {
  console.log = (...args: unknown[]) => console.error(...args);
  return (e) => {
    out.write(JSON.stringify(e) + '\n');
  };
}

/** First Ctrl-C (or SIGTERM) cancels at the next batch with a checkpoint; a second one exits at once. */
export function cancelOnSignals(onFirst?: () => void): { isCancelled: () => boolean; dispose: () => void } {
  let cancelled = false;
  const handler = () => {
    if (cancelled) process.exit(EXIT.cancelled);
    cancelled = true;
    onFirst?.();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    isCancelled: () => cancelled,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export function register(program: Command): void {
  const train = program
    .command('train')
    .description('train one model and report per-epoch metrics (exit codes: 0 finished, 1 failed, 2 invalid, 3 diverged, 130 cancelled)');
  // the run flags come from the run spec's schema (run-flags.ts); --json is about this command's output only
  for (const option of runFlagOptions()) train.addOption(option);
  train.addOption(new Option('--json', 'one JSON event per line on stdout; the last line is {"event":"done",…}').helpGroup('Output options:'));
  train.action(async (options: Record<string, unknown>) => {
    let input: Partial<RunSpecInput>;
    try {
      input = specInputFromOptions(options);
    } catch (err) {
      if (!(err instanceof TrainUsageError)) throw err;
      process.stderr.write(`normlab train: ${err.message}\n`);
      process.exitCode = EXIT.invalid;
      return;
    }
    process.exitCode = await runInProcess(input, options.json === true);
  });
}

/** Runs one spec here, rendering its events; returns the exit code. */
export async function runInProcess(input: Partial<RunSpecInput>, json: boolean): Promise<number> {
  let epochs = input.epochs ?? 0;
  try {
    epochs = resolvePreset(input).epochs ?? epochs;
  } catch {
    // an unknown preset is reported by executeRun like any other invalid spec
  }
  const emit = json ? jsonRenderer(process.stdout) : humanRenderer(process.stdout, process.stderr, () => epochs);
  const signals = cancelOnSignals(() => {
    if (!json) process.stderr.write('\ncancelling at the next batch (Ctrl-C again to quit at once)…\n');
  });
  try {
    return exitCodeOf(await executeRun(input, { emit, isCancelled: signals.isCancelled }));
  } finally {
    signals.dispose();
  }
}
