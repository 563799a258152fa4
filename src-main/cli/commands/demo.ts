import { Command, Option } from 'commander';
import type { WorkerEvent } from '../../../src-worker/protocol';
import type { RunSpecInput } from '../../../src-worker/run-spec';
import { executeRun } from '../../../src-worker/train/run';
import { cancelOnSignals, EXIT, finiteNumber, jsonRenderer, positiveInt } from './train';

/**
 * `normlab demo`: the README's main job. KernelNorm vs BatchNorm vs GroupNorm vs LayerNorm ResNet-18s at a
 * reduced width on the built-in synthetic set, a few seeds each, then a mean ± SD table of final test top-1.
 * Runs one after another in this process; the scheduler will take this over.
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

export interface DemoRow {
  model: string;
  accuracies: number[];
  mean: number;
  sd: number;
  seconds: number;
}

/**
 * GroupNorm groups for a width multiplier: the paper's 32 groups scaled with the width, so a group keeps the
 * paper's channel count (2 channels at the 64-channel stage). Unscaled, a 1/16-width ResNet's 4-channel
 * layers get one channel per group, which stays at chance on this budget.
 */
export function groupsForWidth(width: number): number {
  return Math.max(1, Math.round(32 * width));
}

/** Mean and sample standard deviation (n - 1), as papers report over seeds; SD is 0 for a single value. */
export function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, sd: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

export function formatDemoTable(rows: DemoRow[]): string {
  const header = ['model', 'test top-1 (mean ± SD)', 'seeds', 'time'];
  const body = rows.map((r) => [
    r.model,
    r.accuracies.length ? `${(100 * r.mean).toFixed(2)}% ± ${(100 * r.sd).toFixed(2)}` : 'failed',
    String(r.accuracies.length),
    `${r.seconds.toFixed(0)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}

interface DemoOptions {
  epochs: number; seeds: number; width: number; models: string; json?: boolean; backend: string;
  batchSize: number; lr: number; syntheticTrainSize: number; syntheticTestSize: number;
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
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('--json', 'JSON lines: every run\'s events, then {"event":"demo_summary","rows":[…]}')
    .action(async (o: DemoOptions) => {
      process.exitCode = await runDemo(o);
    });
}

async function runDemo(o: DemoOptions): Promise<number> {
  const models = o.models.split(',').map((m) => m.trim()).filter(Boolean);
  const json = o.json ?? false;
  const writeJson = json ? jsonRenderer(process.stdout) : null;
  const say = (text: string) => {
    if (!json) process.stdout.write(text + '\n');
  };
  const signals = cancelOnSignals(() => say('\ncancelling after the current batch…'));
  const rows: DemoRow[] = [];
  let exitCode: number = EXIT.finished;
  say(`NormLab demo: ${models.join(', ')} at width ${o.width} (GroupNorm: ${groupsForWidth(o.width)} groups), ` +
    `${o.seeds} seed(s), ${o.epochs} epoch(s) on the synthetic set (${o.syntheticTrainSize} train / ${o.syntheticTestSize} test images)`);
  try {
    outer: for (const model of models) {
      const row: DemoRow = { model, accuracies: [], mean: 0, sd: 0, seconds: 0 };
      rows.push(row);
      for (let seed = 0; seed < o.seeds; seed++) {
        const spec: Partial<RunSpecInput> = {
          model, dataset: 'synthetic', epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed, width: o.width, groups: groupsForWidth(o.width),
          backend: o.backend as RunSpecInput['backend'], syntheticTrainSize: o.syntheticTrainSize,
          syntheticTestSize: o.syntheticTestSize, schedule: { kind: 'cosine', decay: 0.01 }, statsEvery: 0, checkpointEvery: 0,
        };
        const started = performance.now();
        let errorReason = '';
        const result = await executeRun(spec, {
          isCancelled: signals.isCancelled,
          emit: (e: WorkerEvent) => {
            writeJson?.({ ...e, model, seed });
            if (e.event === 'error') errorReason = e.reason;
          },
        });
        const seconds = (performance.now() - started) / 1000;
        row.seconds += seconds;
        if (result.status === 'cancelled') {
          exitCode = EXIT.cancelled;
          break outer;
        }
        if (result.status === 'finished' && result.outcome) {
          row.accuracies.push(result.outcome.metrics.test_acc);
          say(`  ${model} seed ${seed}: test top-1 ${(100 * result.outcome.metrics.test_acc).toFixed(2)}% (${seconds.toFixed(0)} s)`);
        } else {
          exitCode = EXIT.failed;
          say(`  ${model} seed ${seed}: ${result.status}${errorReason ? ` (${errorReason})` : ''}`);
          if (result.status === 'invalid') break outer;
        }
      }
      Object.assign(row, meanSd(row.accuracies.length ? row.accuracies : [0]));
    }
  } finally {
    signals.dispose();
  }
  if (json) process.stdout.write(JSON.stringify({ event: 'demo_summary', rows }) + '\n');
  else say('\n' + formatDemoTable(rows));
  return exitCode;
}
