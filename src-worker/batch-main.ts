import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { WorkerEvent } from './protocol';
import type { JournalAck } from './train/journal';
import type { RunExitCode } from './train/run';

/**
 * The worker of a batch job (a Slurm job script runs it on a compute node): one run from a file, no parent.
 *
 *   node src-worker/batch-main.ts --run FILE      FILE: {"spec": RunSpec, "journalAck"?: {journal, seq}}
 *
 * The manager never talks to this process. Everything it learns comes through the run folder on shared storage:
 * the fsync'd journal `events.jsonl` (written by the durable run, as locally) and `progress.json`, the latest
 * progress event, replaced atomically at most once a second (progress is live-only and never journaled).
 * Stdout, which Slurm keeps as the job's output file, gets one readable line per journaled event, so a user
 * opening that file sees how the run went; an error before the journal opens is only there.
 *
 * SIGTERM (Slurm's `--signal=B:TERM@…` before the time limit, a preemption, `scancel`) stops the run at the next
 * batch with a checkpoint and done/interrupted; whoever reads the journal decides what comes next.
 * Exit codes as src-worker/main.ts: 0 the run ended in order, 1 a crash, 2 a bad request.
 */
export const PROGRESS_FILE = 'progress.json';

interface BatchInput {
  spec: unknown;
  journalAck?: JournalAck;
}

const USAGE = 'usage: batch-main.ts --run FILE (FILE holds {"spec": …, "journalAck"?: …})';

function readInput(argv: string[]): BatchInput {
  let file: string | undefined;
  try {
    ({ values: { run: file } } = parseArgs({ args: argv, options: { run: { type: 'string' } } }));
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${USAGE}`, { cause: err });
  }
  if (file === undefined) throw new Error(`no run file given; ${USAGE}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`run file ${file} cannot be read as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || !('spec' in value)) throw new Error(`run file ${file} has no "spec"; ${USAGE}`);
  const input = value as BatchInput;
  const dir = (input.spec as { checkpointDir?: unknown } | null)?.checkpointDir;
  // without a run folder the events would go nowhere: nobody listens to this process
  if (typeof dir !== 'string' || dir === '') throw new Error(`run file ${file}: spec.checkpointDir is required (the run folder the journal is written to)`);
  return input;
}

function describe(event: WorkerEvent): string | null {
  switch (event.event) {
    case 'started':
      return `started on ${event.device} (${event.backend})${event.resumedFromEpoch > 0 ? `, resumed after epoch ${event.resumedFromEpoch}` : ''}`;
    case 'epoch':
      return `epoch ${event.epoch}: train_loss ${event.metrics.train_loss.toFixed(4)}, test_acc ${event.metrics.test_acc.toFixed(4)}`;
    case 'checkpoint':
      return `checkpoint after epoch ${event.epoch} (${event.reason})`;
    case 'log':
      return `${event.level}: ${event.message}`;
    case 'error':
      return `error: ${event.reason}${event.detail ? `\n${event.detail}` : ''}`;
    case 'done':
      return `done: ${event.status}`;
    default:
      return null;
  }
}

/** Writes the newest progress at most once a second: a reader only ever wants the latest. */
function progressWriter(dir: string): (event: Extract<WorkerEvent, { event: 'progress' }>) => void {
  const path = join(dir, PROGRESS_FILE);
  let last = 0;
  return (event) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify({ ...event, at: now }));
      renameSync(`${path}.tmp`, path);
    } catch {
      // progress is a courtesy; a full disk shows up in the journal's own writes
    }
  };
}

async function main(): Promise<void> {
  // Anything that logs with console.log (tfjs included) goes to stderr, which Slurm merges into the output file.
  console.log = (...args: unknown[]) => console.error(...args);
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  let input: BatchInput;
  try {
    input = readInput(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`normlab batch worker: ${(err as Error).message}\n`);
    return exit(2);
  }
  const writeProgress = progressWriter((input.spec as { checkpointDir: string }).checkpointDir);
  // loaded once the input is known to be usable: tfjs and the models take seconds to import
  const { executeRun } = await import('./train/run');
  const result = await executeRun(input.spec, {
    emit(event) {
      if (event.event === 'progress') return writeProgress(event);
      const line = describe(event);
      if (line) process.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
    },
    isCancelled: () => stopping,
    stopStatus: () => 'interrupted',
    journalAck: input.journalAck,
  });
  return exit(result.exitCode);
}

async function exit(code: RunExitCode): Promise<never> {
  // process.exit would drop a pending pipe write
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

// only as a process entry: a module that imports PROGRESS_FILE must not start a run in its own process
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
