import { Command, Option } from 'commander';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SweepSpecArg } from '../../api/schemas';
import type { GroupAggregate } from '../../store/types';
import { openRuntime } from '../../runtime';
import { TABLE1_LEARNING_RATES, type Table1BatchSize } from '../../sweeps/templates/paper-table1';
import { finiteNumber, positiveInt } from '../option-parsers';
import { formatAggregateTable, formatPercent, formatStatusSummary, runSweepUntilSignalled, type SweepReporter } from '../sweep-runner';
import { backendRequestSchema } from '../../../src-worker/run-spec';

/**
 * `normlab demo`: the README's main job, built to show the paper's strongest claim if our KernelNorm is right:
 * KNResNet-18 keeps its accuracy at batch size 2, where BatchNorm (batch statistics of two images) degrades, and
 * the batch-independent GroupNorm and LayerNorm do not match it. Each model trains at batch 2 and 32 with the
 * learning rate the paper's scripts use for it at that batch size (reproducibility/table1-*.sh; no tuning of
 * ours), on a built-in set with texture everywhere (no flat windows, unlike the older `synthetic` set),
 * a few seeds each, through the store and the scheduler; then one mean ± SD table and a line on what it shows.
 */

/** Texture everywhere: the older `synthetic` set's flat backgrounds give KernelNorm zero-variance windows. */
export const DEMO_DATASET = 'synthetic-textured';

export const DEMO_DEFAULTS = {
  models: ['knresnet18', 'resnet18_bn', 'resnet18_gn', 'resnet18_ln'],
  batchSizes: [2, 32],
  seeds: 2,
  epochs: 2,
  width: 0.0625,
  syntheticTrainSize: 1024,
  syntheticTestSize: 512,
};

/**
 * GroupNorm's 32 groups scaled with the width: at width 1/16 the narrowest layers have 4 channels, and one
 * channel per group (what 32 groups would leave) normalizes every channel to zero mean and kills the signal.
 */
export function groupsForWidth(width: number): number {
  return Math.max(1, Math.round(32 * width));
}

/** The paper's learning rate for a model at a batch size (its Table 1 scripts), or `override` for every model. */
export function demoLearningRate(model: string, batchSize: number, override?: number): number {
  if (override !== undefined) return override;
  const byBatch = Object.hasOwn(TABLE1_LEARNING_RATES, model) ? TABLE1_LEARNING_RATES[model] : undefined;
  if (!byBatch) {
    throw new Error(`normlab demo: the paper gives no learning rate for ${model} (its Table 1 covers ${Object.keys(TABLE1_LEARNING_RATES).join(', ')}); pass --lr`);
  }
  if (!Object.hasOwn(byBatch, batchSize)) {
    throw new Error(`normlab demo: the paper gives learning rates for batch sizes ${Object.keys(byBatch).join(', ')}, not ${batchSize}; pass --lr`);
  }
  return byBatch[batchSize as Table1BatchSize];
}

export interface DemoOptions {
  epochs: number;
  seeds: number;
  width: number;
  models: string;
  batchSizes: string;
  lr?: number;
  syntheticTrainSize: number;
  syntheticTestSize: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  workers?: number;
  db?: string;
  json?: boolean;
}

const list = (s: string): string[] => s.split(',').map((m) => m.trim()).filter(Boolean);

export function parseBatchSizes(s: string): number[] {
  const sizes = list(s).map(Number);
  const bad = list(s).filter((_, i) => !Number.isInteger(sizes[i]) || sizes[i] < 1);
  if (bad.length > 0 || sizes.length === 0) throw new Error(`normlab demo: --batch-sizes wants positive integers separated by commas, got "${s}"`);
  return sizes;
}

/**
 * One sweep of explicit points: the paper's learning rate differs by model and batch size, which a grid product
 * cannot say. Smaller batches first: they take longest, and the queue keeps both workers busy to the end.
 */
export function demoSweepSpec(o: DemoOptions, name = `demo-${DEMO_DATASET}-w${o.width}-${o.epochs}ep`): SweepSpecArg {
  const points = [...parseBatchSizes(o.batchSizes)].sort((a, b) => a - b)
    .flatMap((batchSize) => list(o.models).map((model) => ({ model, batchSize, lr: demoLearningRate(model, batchSize, o.lr) })));
  return {
    name,
    base: {
      dataset: DEMO_DATASET,
      syntheticTrainSize: o.syntheticTrainSize,
      syntheticTestSize: o.syntheticTestSize,
      epochs: o.epochs,
      width: o.width,
      groups: groupsForWidth(o.width),
      schedule: { kind: 'cosine', decay: 0.01 },
      backend: o.backend,
      statsEvery: 10,
    },
    points,
    repeats: o.seeds,
  };
}

const meanOf = (a: GroupAggregate | undefined): number | null => a?.finalTestAcc.mean ?? null;

/** Both generated sets have 10 balanced classes: guessing scores 10 %. */
const CHANCE = 0.1;
/** Within this of chance a model has not learned anything the table can compare (n = 2, 512 test images). */
const CHANCE_MARGIN = 0.03;

/**
 * The one line on what the run showed, read off the table: each model's final top-1 at the smallest and the
 * largest batch size, which models stayed at chance, whether KernelNorm is the most accurate at the small batch,
 * whether BatchNorm lost accuracy going small (the other half of the paper's claim), and the setting's limits.
 * It says what happened, including that the claim does not show; it never calls a difference significant.
 */
export function demoFinding(aggregates: GroupAggregate[], o: Pick<DemoOptions, 'width' | 'epochs' | 'syntheticTrainSize' | 'seeds'>): string {
  const sizes = [...new Set(aggregates.map((a) => a.batchSize))].sort((a, b) => a - b);
  const limits = `limits: width ${o.width}, ${o.epochs} epoch(s) on ${o.syntheticTrainSize} generated 32×32 images of 10 classes ` +
    `(${DEMO_DATASET}), n = ${o.seeds} seeds, no significance test; the paper trains full width for 150 epochs on CIFAR-100`;
  if (sizes.length < 2) return `Shows: one batch size only, so nothing about the small-batch claim; ${limits}.`;
  const [small, large] = [sizes[0], sizes[sizes.length - 1]];
  const models = [...new Set(aggregates.map((a) => a.model))];
  const at = (model: string, batch: number) => meanOf(aggregates.find((a) => a.model === model && a.batchSize === batch));
  const atChance = (v: number | null) => v === null || v < CHANCE + CHANCE_MARGIN;
  const cells = models.map((m) => `${m} ${formatPercent(at(m, small), 1)}% (bs ${small}) vs ${formatPercent(at(m, large), 1)}% (bs ${large})`);
  const parts: string[] = [];
  const chance = models.filter((m) => atChance(at(m, small)) && atChance(at(m, large)));
  if (chance.length > 0) parts.push(`${chance.join(', ')} stay within ${CHANCE_MARGIN * 100} points of chance (${CHANCE * 100}%) at both sizes`);
  const kn = models.find((m) => m.startsWith('kn'));
  if (kn && at(kn, small) !== null) {
    const knSmall = at(kn, small) ?? 0;
    const beaten = models.filter((m) => m !== kn && (at(m, small) ?? -1) >= knSmall);
    parts.push(beaten.length === 0 ? `${kn} is the most accurate at batch ${small}` : `at batch ${small} ${beaten.join(', ')} match or beat ${kn}`);
  }
  const bn = models.find((m) => m.endsWith('_bn'));
  if (bn) {
    const [bnSmall, bnLarge] = [at(bn, small), at(bn, large)];
    if (atChance(bnLarge)) parts.push(`${bn} does not learn at batch ${large} either, so BatchNorm's small-batch loss is not shown`);
    else parts.push(`${bn} ${(bnSmall ?? 0) < (bnLarge ?? 0) ? 'loses' : 'gains'} ${formatPercent(Math.abs((bnLarge ?? 0) - (bnSmall ?? 0)), 1)} points from batch ${large} to ${small}`);
  }
  return `Shows: ${cells.join('; ')}: ${parts.join('; ')}; ${limits}.`;
}

function textReporter(say: (line: string) => void, what: string): SweepReporter {
  return {
    submitted: (r) => say(`${what}: ${r.runs.total} runs queued (${r.groups} configurations × seeds)`),
    event: () => {},
    runEnded: (run, done, total) => {
      const what = run.status === 'finished' ? `test top-1 ${formatPercent(run.finalTestAcc)}%` : `${run.status}: ${run.errorReason ?? ''}`;
      say(`  [${done}/${total}] ${run.model} batch ${run.batchSize} seed ${run.seed}: ${what}`);
    },
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('KernelNorm vs BatchNorm, GroupNorm and LayerNorm ResNet-18s at batch 2 and 32 with the paper\'s learning rates (mean ± SD over seeds)')
    .option('--epochs <n>', 'epochs per run', positiveInt, DEMO_DEFAULTS.epochs)
    .option('--seeds <n>', 'seeds per model and batch size', positiveInt, DEMO_DEFAULTS.seeds)
    .option('--width <x>', 'width multiplier of the ResNets', finiteNumber, DEMO_DEFAULTS.width)
    .option('--models <list>', 'comma-separated model names', DEMO_DEFAULTS.models.join(','))
    .option('--batch-sizes <list>', 'comma-separated mini-batch sizes', DEMO_DEFAULTS.batchSizes.join(','))
    .option('--lr <x>', 'one learning rate for every model and batch size (default: the paper\'s per model and batch size)', finiteNumber)
    .option('--synthetic-train-size <n>', 'training images', positiveInt, DEMO_DEFAULTS.syntheticTrainSize)
    .option('--synthetic-test-size <n>', 'test images', positiveInt, DEMO_DEFAULTS.syntheticTestSize)
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...backendRequestSchema.options]).default('auto'))
    .option('--workers <n>', 'worker processes (default: one per core)', positiveInt)
    .option('--db <file>', 'experiment store to use (default: a new one in the temp folder)')
    .option('--json', 'JSON lines: every run\'s events, then {"event":"demo_summary", …}')
    .action(async (o: DemoOptions) => {
      process.exitCode = await runDemo(o);
    });
}

async function runDemo(o: DemoOptions): Promise<number> {
  const json = o.json ?? false;
  const say = (line: string) => process.stderr.write(line + '\n');
  let spec: SweepSpecArg;
  const name = `demo-${DEMO_DATASET}-w${o.width}-${o.epochs}ep`;
  try {
    spec = demoSweepSpec(o, name);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const dbFile = o.db ?? join(mkdtempSync(join(tmpdir(), 'normlab-demo-')), 'normlab.db');
  const workers = o.workers ?? cpus().length;
  if (!json) {
    const lrs = o.lr === undefined ? 'the paper\'s learning rate per model and batch size' : `lr ${o.lr} for every run`;
    say(`NormLab demo: ${o.models} at width ${o.width} (GroupNorm: ${groupsForWidth(o.width)} groups), batch sizes ${o.batchSizes} with ${lrs}, ` +
      `${o.seeds} seed(s), ${o.epochs} epoch(s) on the ${DEMO_DATASET} set (${o.syntheticTrainSize} train / ${o.syntheticTestSize} test images), ${workers} worker(s)`);
    say(`results go to ${dbFile}; browse them with: npx normlab serve --db ${dbFile}`);
  }
  const runtime = await openRuntime({ dbFile, startScheduler: false, devices: { cpuSlots: workers }, log: say });
  try {
    const jsonReporter: SweepReporter = {
      submitted: () => {},
      event: (runId, event) => process.stdout.write(JSON.stringify({ ...event, runId }) + '\n'),
      runEnded: () => {},
    };
    const { aggregates, runs, allFinished } = await runSweepUntilSignalled(runtime, spec, json ? jsonReporter : textReporter(say, `sweep "${name}"`));
    const finding = demoFinding(aggregates, o);
    if (json) {
      process.stdout.write(JSON.stringify({ event: 'demo_summary', db: dbFile, dataset: DEMO_DATASET, aggregates, finding }) + '\n');
    } else {
      process.stdout.write('\n' + formatAggregateTable(aggregates) + '\n\n' + finding + '\n');
      say(`${runs.length} runs: ${formatStatusSummary(runs)}`);
    }
    return allFinished ? 0 : 1;
  } finally {
    await runtime.close();
  }
}
