import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParentMessage, WorkerEvent } from './protocol';
import type { JournalAck } from './train/journal';
import { executeRun, type RunExitCode } from './train/run';

/**
 * The worker process: one run per process.
 *
 *   forked (IPC):  waits for {type:'start', spec}; events go back through process.send
 *   standalone:    node --import tsx src-worker/main.ts --spec FILE | --spec-json JSON; events as JSON lines
 *
 * {type:'cancel'} stops the run at the next batch with a checkpoint and done/cancelled (a user's decision).
 * {type:'interrupt'}, SIGTERM, SIGINT and a lost parent stop it the same way but report done/interrupted, so the
 * next start resumes it: Ctrl-C in a terminal (which signals the whole process group) means "stop for now".
 * Exit code 0 when the run ended in order (finished, diverged, cancelled, interrupted), 1 on a crash, 2 on a bad
 * request.
 */
const forked = typeof process.send === 'function';
let stopAs: 'cancelled' | 'interrupted' | null = null;
// a cancel is the stronger word: an interrupt that arrives after it (the app quitting) does not undo it
const requestStop = (as: 'cancelled' | 'interrupted') => {
  if (stopAs !== 'cancelled') stopAs = as;
};

// Anything that logs with console.log (tfjs included) must not corrupt the JSON-lines stream on stdout.
console.log = (...args: unknown[]) => console.error(...args);

function send(event: WorkerEvent): Promise<void> {
  if (forked) {
    if (!process.connected) return Promise.resolve();
    return new Promise((resolve) => {
      process.send!(event, undefined, {}, () => resolve());
    });
  }
  process.stdout.write(JSON.stringify(event) + '\n');
  return Promise.resolve();
}

let pending: Promise<void> = Promise.resolve();
function emit(event: WorkerEvent): void {
  pending = pending.then(() => send(event));
}

async function finish(code: RunExitCode): Promise<never> {
  await pending;
  if (forked && process.connected) process.disconnect();
  // Flush stdout before leaving: process.exit would drop a pending pipe write.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

function specFromArgv(argv: string[]): unknown {
  const usage = 'usage: main.ts --spec FILE | --spec-json JSON';
  let values: { spec?: string; 'spec-json'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { spec: { type: 'string' }, 'spec-json': { type: 'string' } } }));
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${usage}`, { cause: err });
  }
  const text = values['spec-json'] ?? (values.spec !== undefined ? readFileSync(values.spec, 'utf8') : undefined);
  if (text === undefined) throw new Error(`no run spec given; ${usage}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`run spec is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

let started = false;
function waitForStart(): Promise<Extract<ParentMessage, { type: 'start' }>> {
  return new Promise((resolve) => {
    process.on('message', (msg: ParentMessage) => {
      if (msg?.type !== 'start' || started) return;
      started = true;
      resolve(msg);
    });
  });
}

async function main(): Promise<void> {
  // before a run is given there is nothing to checkpoint: a signal just ends the process
  const stop = () => (started || !forked ? requestStop('interrupted') : process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (forked) {
    process.on('message', (msg: ParentMessage) => {
      if (msg?.type === 'cancel') requestStop('cancelled');
      if (msg?.type === 'interrupt') requestStop('interrupted');
    });
    // A parent that dies takes the run with it: checkpoint at the next batch (or evaluation batch) and leave, so
    // the worker that resumes the run does not wait long. What this worker journals meanwhile is replayed then.
    // A worker that was started ahead of time and never given a run just leaves.
    process.on('disconnect', () => {
      requestStop('interrupted');
      if (!started) process.exit(0);
    });
  }
  let spec: unknown;
  let journalAck: JournalAck | undefined;
  try {
    if (forked && !process.argv.includes('--spec') && !process.argv.includes('--spec-json')) {
      ({ spec, journalAck } = await waitForStart());
    } else {
      spec = specFromArgv(process.argv.slice(2));
    }
  } catch (err) {
    emit({ event: 'error', reason: (err as Error).message });
    return finish(2);
  }
  const result = await executeRun(spec, {
    emit,
    isCancelled: () => stopAs !== null,
    stopStatus: () => stopAs ?? 'cancelled',
    journalAck,
  });
  return finish(result.exitCode);
}

void main();
