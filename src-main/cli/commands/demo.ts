import { Command, Option } from 'commander';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SweepSpecArg } from '../../api/schemas';
import { openRuntime } from '../../runtime';
import { finiteNumber, positiveInt } from '../option-parsers';
import { formatAggregateTable, formatPercent, formatStatusSummary, runSweepUntilSignalled, type SweepReporter } from '../sweep-runner';
import { backendRequestSchema } from '../../../src-worker/run-spec';

/**
 * `normlab demo`: the README's main job. KernelNorm vs BatchNorm vs GroupNorm vs LayerNorm ResNet-18s at a
 * reduced width on the built-in synthetic set, a few seeds each, run as a sweep through the store and the
 * scheduler (one worker per core), then a mean ± SD table of test top-1 per model.
 */
export const DEMO_DEFAULTS = {
  models: ['knresnet18', 'resnet18_bn', 'resnet18_gn', 'resnet18_ln'],
  seeds: 2,
  epochs: 3,
  width: 0.0625,
  batchSize: 32,
  lr: 0.05,
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

export interface DemoOptions {
  epochs: number;
  seeds: number;
  width: number;
  models: string;
  batchSize: number;
  lr: number;
  syntheticTrainSize: number;
  syntheticTestSize: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  workers?: number;
  db?: string;
  json?: boolean;
}

export function demoSweepSpec(o: DemoOptions): SweepSpecArg {
  return {
    name: `demo-${o.width}-${o.epochs}ep`,
    base: {
      dataset: 'synthetic',
      syntheticTrainSize: o.syntheticTrainSize,
      syntheticTestSize: o.syntheticTestSize,
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      width: o.width,
      groups: groupsForWidth(o.width),
      schedule: { kind: 'cosine', decay: 0.01 },
      backend: o.backend,
      statsEvery: 10,
    },
    grid: { model: o.models.split(',').map((m) => m.trim()).filter(Boolean) },
    repeats: o.seeds,
  };
}

function textReporter(say: (line: string) => void): SweepReporter {
  return {
    submitted: (r) => say(`${r.runs.total} runs queued (${r.groups} models × seeds)`),
    event: () => {},
    runEnded: (run, done, total) => {
      const what = run.status === 'finished' ? `test top-1 ${formatPercent(run.finalTestAcc)}%` : `${run.status}: ${run.errorReason ?? ''}`;
      say(`  [${done}/${total}] ${run.model} seed ${run.seed}: ${what}`);
    },
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('compare KernelNorm, BatchNorm, GroupNorm and LayerNorm ResNet-18s on the synthetic set (mean ± SD over seeds)')
    .option('--epochs <n>', 'epochs per run', positiveInt, DEMO_DEFAULTS.epochs)
    .option('--seeds <n>', 'seeds per model', positiveInt, DEMO_DEFAULTS.seeds)
    .option('--width <x>', 'width multiplier of the ResNets', finiteNumber, DEMO_DEFAULTS.width)
    .option('--models <list>', 'comma-separated model names', DEMO_DEFAULTS.models.join(','))
    .option('--batch-size <n>', 'mini-batch size', positiveInt, DEMO_DEFAULTS.batchSize)
    .option('--lr <x>', 'base learning rate (cosine schedule)', finiteNumber, DEMO_DEFAULTS.lr)
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
  const dbFile = o.db ?? join(mkdtempSync(join(tmpdir(), 'normlab-demo-')), 'normlab.db');
  const workers = o.workers ?? cpus().length;
  if (!json) {
    say(`NormLab demo: ${o.models} at width ${o.width} (GroupNorm: ${groupsForWidth(o.width)} groups), ${o.seeds} seed(s), ` +
      `${o.epochs} epoch(s) on the synthetic set (${o.syntheticTrainSize} train / ${o.syntheticTestSize} test images), ${workers} worker(s)`);
    say(`results go to ${dbFile}; browse them with: npx normlab serve --db ${dbFile}`);
  }
  const runtime = await openRuntime({ dbFile, startScheduler: false, devices: { cpuSlots: workers }, log: say });
  try {
    const reporter: SweepReporter = json
      ? {
          submitted: () => {},
          event: (runId, event) => process.stdout.write(JSON.stringify({ ...event, runId }) + '\n'),
          runEnded: () => {},
        }
      : textReporter(say);
    const outcome = await runSweepUntilSignalled(runtime, demoSweepSpec(o), reporter);
    if (json) {
      process.stdout.write(JSON.stringify({ event: 'demo_summary', db: dbFile, aggregates: outcome.aggregates }) + '\n');
    } else {
      process.stdout.write('\n' + formatAggregateTable(outcome.aggregates) + '\n');
      say(`${outcome.runs.length} runs: ${formatStatusSummary(outcome.runs)}`);
    }
    return outcome.allFinished ? 0 : 1;
  } finally {
    await runtime.close();
  }
}
