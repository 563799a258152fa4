import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { finiteNumber, nonNegativeInt, positiveInt, UsageError } from '../option-parsers';
import type { FinalMetrics, WorkerEvent } from '../../../src-worker/protocol';
import { backendRequestSchema, datasetNameSchema, type LrSchedule, type RunSpecInput } from '../../../src-worker/run-spec';
import { resolvePreset } from '../../../src-worker/train/presets';
import { executeRun, type RunResult } from '../../../src-worker/train/run';

/**
 * `normlab train`: one run, in this process (the scheduler forks src-worker/main.ts instead).
 * Exit codes: 0 finished, 1 failed, 2 invalid request, 3 diverged, 130 cancelled (Ctrl-C).
 */
export const EXIT = { finished: 0, failed: 1, invalid: 2, diverged: 3, cancelled: 130, interrupted: 130 } as const;

function intList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

interface TrainOptions {
  model?: string; dataset?: string; dataDir?: string; epochs?: number; batchSize?: number; lr?: number; seed?: number;
  width?: number; preset?: string; checkpointDir?: string; resume?: boolean; backend?: string; json?: boolean;
  momentum?: number; weightDecay?: number; nesterov?: boolean; schedule?: string; decay?: number; milestones?: number[];
  gamma?: number; power?: number; syntheticTrainSize?: number; syntheticTestSize?: number; imageSize?: number;
  checkpointEvery?: number; statsEvery?: number; progressEvery?: number; knDropout?: number; groups?: number;
  activation?: string; augment?: boolean; lowResolution?: boolean; normalizeInputs?: boolean;
  dp?: boolean; targetEpsilon?: number; noiseMultiplier?: number; delta?: number; maxGradNorm?: number; logicalBatch?: number;
}

/** A flag combination the run spec cannot express; reported like a bad flag value (exit 2). */
export class TrainUsageError extends UsageError {
  override name = 'TrainUsageError';
}

const DP_FLAGS = { targetEpsilon: '--target-epsilon', noiseMultiplier: '--noise-multiplier', delta: '--delta', maxGradNorm: '--max-grad-norm', logicalBatch: '--logical-batch' } as const;

function presetFields(name: string | undefined): Partial<RunSpecInput> {
  if (name === undefined) return {};
  try {
    return resolvePreset({ preset: name });
  } catch {
    return {}; // an unknown preset is reported by executeRun like any other invalid spec
  }
}

/**
 * The DP options the flags describe, merged over a DP preset's (resolvePreset would replace the preset's dp
 * object whole, so `--preset dp-paper --max-grad-norm 2` would lose the preset's ε and logical batch).
 */
function dpFrom(o: TrainOptions, preset: Partial<RunSpecInput>): RunSpecInput['dp'] {
  const given = Object.fromEntries(Object.keys(DP_FLAGS).flatMap((k) => (o[k as keyof typeof DP_FLAGS] === undefined ? [] : [[k, o[k as keyof typeof DP_FLAGS]]])));
  if (!o.dp && !preset.dp) {
    const flags = Object.keys(given).map((k) => DP_FLAGS[k as keyof typeof DP_FLAGS]);
    if (flags.length > 0) throw new TrainUsageError(`${flags.join(', ')}: DP-SGD options; add --dp (or --preset dp-paper)`);
    return undefined;
  }
  const dp = { ...preset.dp, ...given } as Partial<NonNullable<RunSpecInput['dp']>>;
  if (dp.logicalBatch === undefined) {
    throw new TrainUsageError('--dp needs --logical-batch N: the expected size of the Poisson-sampled batch (the paper uses 8192 on CIFAR-10)');
  }
  // the paper's budget unless the noise is given directly
  if (dp.targetEpsilon === undefined && dp.noiseMultiplier === undefined) dp.targetEpsilon = 8;
  return dp as RunSpecInput['dp'];
}

function scheduleFrom(o: TrainOptions): LrSchedule | undefined {
  switch (o.schedule) {
    case undefined:
      return undefined;
    case 'constant':
      return { kind: 'constant' };
    case 'cosine':
      return { kind: 'cosine', decay: o.decay ?? 0.01 };
    case 'multistep':
      return { kind: 'multistep', milestones: o.milestones ?? [30, 60, 90], gamma: o.gamma ?? 0.1 };
    case 'poly':
      return { kind: 'poly', power: o.power ?? 0.9 };
    default:
      throw new InvalidArgumentError(`unknown schedule "${o.schedule}"`);
  }
}

/** The run spec the flags describe (before presets are resolved; undefined fields are left to the preset). */
export function specInputFromOptions(o: TrainOptions): Partial<RunSpecInput> {
  const preset = presetFields(o.preset);
  const dp = dpFrom(o, preset);
  // the paper trains every DP model with Mish; an explicit --activation (or the preset's) still wins
  const activation = o.activation ?? (dp && preset.activation === undefined ? 'mish' : undefined);
  return {
    model: o.model, dataset: o.dataset as RunSpecInput['dataset'], dataDir: o.dataDir, epochs: o.epochs,
    batchSize: o.batchSize, lr: o.lr, seed: o.seed, width: o.width, preset: o.preset, checkpointDir: o.checkpointDir,
    resume: o.resume, backend: o.backend as RunSpecInput['backend'], momentum: o.momentum, weightDecay: o.weightDecay,
    nesterov: o.nesterov, schedule: scheduleFrom(o), syntheticTrainSize: o.syntheticTrainSize,
    syntheticTestSize: o.syntheticTestSize, imageSize: o.imageSize, checkpointEvery: o.checkpointEvery,
    statsEvery: o.statsEvery, progressEvery: o.progressEvery, knDropout: o.knDropout, groups: o.groups,
    activation: activation as RunSpecInput['activation'], augment: o.augment, lowResolution: o.lowResolution,
    normalizeInputs: o.normalizeInputs, dp,
  };
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
        if (bar) (bar as cliProgress.SingleBar).stop();
        bar = null;
        err.write(`normlab train: ${withFlagNames(e.reason)}\n`);
        break;
      case 'done':
        if (e.status !== 'failed') line(`${e.status}: ${formatFinal(e.metrics)}`);
        break;
      case 'norm_stats':
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
  program
    .command('train')
    .description('train one model and report per-epoch metrics (exit codes: 0 finished, 1 failed, 2 invalid, 3 diverged, 130 cancelled)')
    .option('--model <name>', 'model name from the registry (see `normlab models`)')
    .addOption(new Option('--dataset <name>', 'data set').choices(datasetNameSchema.options))
    .option('--data-dir <dir>', 'folder holding the data set (cifar: the torchvision root; run `normlab download` to fetch it)')
    .option('--epochs <n>', 'training epochs', positiveInt)
    .option('--batch-size <n>', 'mini-batch size', positiveInt)
    .option('--lr <x>', 'base learning rate', finiteNumber)
    .option('--seed <n>', 'seed for model init, data order, augmentation and dropout', nonNegativeInt)
    .option('--width <x>', 'width multiplier of every layer (1 = the paper)', finiteNumber)
    .option('--preset <name>', 'recipe to start from (cifar100-paper, imagenet-paper, …); explicit flags win')
    .option('--checkpoint-dir <dir>', 'write checkpoints here')
    .option('--checkpoint-every <n>', 'checkpoint every N epochs (0: only on cancel and at the end)', nonNegativeInt)
    .option('--resume', 'continue from the newest checkpoint in --checkpoint-dir')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...backendRequestSchema.options]))
    .option('--momentum <x>', 'SGD momentum', finiteNumber)
    .option('--weight-decay <x>', 'weight decay (applied to all parameters, as the reference does)', finiteNumber)
    .option('--nesterov', 'Nesterov momentum')
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule').choices(['cosine', 'multistep', 'poly', 'constant']))
    .option('--decay <x>', 'cosine: final lr as a fraction of lr (default 0.01)', finiteNumber)
    .option('--milestones <list>', 'multistep: epochs, e.g. 30,60,90', intList)
    .option('--gamma <x>', 'multistep: factor at each milestone (default 0.1)', finiteNumber)
    .option('--power <x>', 'poly: exponent (default 0.9)', finiteNumber)
    .option('--synthetic-train-size <n>', 'synthetic: training images', positiveInt)
    .option('--synthetic-test-size <n>', 'synthetic: test images', positiveInt)
    .option('--image-size <n>', 'folder: image side length', positiveInt)
    .option('--kn-dropout <p>', 'KernelNorm dropout probability', finiteNumber)
    .option('--groups <n>', 'GroupNorm groups', positiveInt)
    .addOption(new Option('--activation <name>', 'activation').choices(['relu', 'mish']))
    .option('--low-resolution', '3x3 stem (default for images of 64 px or less)')
    .option('--no-augment', 'no training-set augmentation')
    .option('--normalize-inputs', 'standardise inputs per channel (default: on, except KernelNorm models on CIFAR, as the reference)')
    .option('--no-normalize-inputs', 'feed raw [0, 1] images')
    .option('--stats-every <n>', 'normalisation statistics every N steps (0: never)', nonNegativeInt)
    .option('--progress-every <n>', 'progress event every N batches', positiveInt)
    .option('--dp', 'train with DP-SGD (Poisson sampling, per-example clipping, Gaussian noise); --batch-size is the micro-batch; activation defaults to mish')
    .option('--target-epsilon <x>', 'DP: privacy budget ε the noise is calibrated to (default 8 unless --noise-multiplier)', finiteNumber)
    .option('--noise-multiplier <x>', 'DP: noise multiplier σ, instead of calibrating to --target-epsilon', finiteNumber)
    .option('--delta <x>', 'DP: δ (default 8e-7)', finiteNumber)
    .option('--max-grad-norm <x>', 'DP: per-example clipping bound C (default 1)', finiteNumber)
    .option('--logical-batch <n>', 'DP: expected Poisson-sampled batch per step (the paper: 8192)', positiveInt)
    .option('--json', 'one JSON event per line on stdout; the last line is {"event":"done",…}')
    .action(async (options: TrainOptions) => {
      let input: Partial<RunSpecInput>;
      try {
        input = specInputFromOptions(options);
      } catch (err) {
        if (!(err instanceof TrainUsageError)) throw err;
        process.stderr.write(`normlab train: ${err.message}\n`);
        process.exitCode = EXIT.invalid;
        return;
      }
      process.exitCode = await runInProcess(input, options.json ?? false);
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
