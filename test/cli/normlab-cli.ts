import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { register, specInputFromOptions } from '../../src-main/cli/commands/train';

/** The CLI as a user runs it from a checkout (tsx from sources). */
export const NORMLAB_BIN = join(import.meta.dirname, '../../bin/normlab.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Becomes XDG_CACHE_HOME, so generated data sets land in the test's folder and not in the user's cache. */
  cacheDir?: string;
  /** Kill the child after this long, so a command that never returns fails its test instead of hanging it. */
  timeoutMs?: number;
}

/** Runs `normlab ARGS` in a child process and collects its exit code, signal and output. */
export function normlab(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = opts.cacheDir === undefined ? process.env : { ...process.env, XDG_CACHE_HOME: opts.cacheDir };
    const child = spawn(process.execPath, [NORMLAB_BIN, ...args], { env, timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function trainProgram(): { program: Command; train: Command } {
  const program = new Command().exitOverride();
  register(program);
  const train = program.commands.find((c) => c.name() === 'train');
  if (!train) throw new Error('the CLI registered no train command');
  return { program, train: train.exitOverride() };
}

/** The `train` subcommand as the CLI registers it, with commander's exits turned into throws. */
export function trainCommand(): Command {
  return trainProgram().train;
}

export type TrainSpecInput = ReturnType<typeof specInputFromOptions>;

/** The spec `normlab train ARGS` would run: commander's real parsing, the action swapped for a capture. */
export function trainSpecOf(args: readonly string[]): TrainSpecInput {
  const { program, train } = trainProgram();
  let captured: TrainSpecInput | undefined;
  train.action((options) => {
    captured = specInputFromOptions(options);
  });
  program.parse(['train', ...args], { from: 'user' });
  if (!captured) throw new Error(`normlab train ${args.join(' ')} did not reach its action`);
  return captured;
}
