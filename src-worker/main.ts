import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParentMessage, WorkerEvent } from './protocol';
import { executeRun, type RunExitCode } from './train/run';

/**
 * The worker process: one run per process.
 *
 *   forked (IPC):  waits for {type:'start', spec}; events go back through process.send
 *   standalone:    node --import tsx src-worker/main.ts --spec FILE | --spec-json JSON; events as JSON lines
 *
 * {type:'cancel'}, SIGTERM and SIGINT stop the run at the next batch with a checkpoint and done/cancelled.
 * Exit code 0 when the run ended in order (finished, diverged, cancelled), 1 on a crash, 2 on a bad request.
 */
const forked = typeof process.send === 'function';
let cancelled = false;

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
    throw new Error(`${(err as Error).message}; ${usage}`);
  }
  const text = values['spec-json'] ?? (values.spec !== undefined ? readFileSync(values.spec, 'utf8') : undefined);
  if (text === undefined) throw new Error(`no run spec given; ${usage}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`run spec is not valid JSON: ${(err as Error).message}`);
  }
}

let started = false;
function waitForStart(): Promise<unknown> {
  return new Promise((resolve) => {
    process.on('message', (msg: ParentMessage) => {
      if (msg?.type !== 'start' || started) return;
      started = true;
      resolve(msg.spec);
    });
  });
}

async function main(): Promise<void> {
  // before a run is given there is nothing to checkpoint: a signal just ends the process
  const stop = () => (started || !forked ? (cancelled = true) : process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (forked) {
    process.on('message', (msg: ParentMessage) => {
      if (msg?.type === 'cancel') cancelled = true;
    });
    // A parent that dies takes the run with it: treat a lost channel as cancel, so the checkpoint is written.
    // A worker that was started ahead of time and never given a run just leaves.
    process.on('disconnect', () => {
      cancelled = true;
      if (!started) process.exit(0);
    });
  }
  let spec: unknown;
  try {
    spec = forked && !process.argv.includes('--spec') && !process.argv.includes('--spec-json') ? await waitForStart() : specFromArgv(process.argv.slice(2));
  } catch (err) {
    emit({ event: 'error', reason: (err as Error).message });
    return finish(2);
  }
  const result = await executeRun(spec, { emit, isCancelled: () => cancelled });
  return finish(result.exitCode);
}

void main();
