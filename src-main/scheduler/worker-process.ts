import { fork, type ChildProcess } from 'node:child_process';
import { childEntry } from '../entry-points';
import { nodeExecArgvFor } from '../node-runtime';
import type { ParentMessage, RunSpec, WorkerEvent } from '../../src-worker/protocol';
import type { JournalAck } from '../../src-worker/train/journal';

/** out/main/worker.js when running built, src-worker/main.ts otherwise (src-main/entry-points.ts). */
export const WORKER_ENTRY = childEntry('worker').file;

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the worker wrote to stderr, kept for the run's failure reason. */
  stderrTail: string;
  /** Whether the worker sent a `done` event before exiting. */
  sawDone: boolean;
}

export interface WorkerHandle {
  readonly pid: number | undefined;
  /** Checkpoint and stop; the run ends cancelled. */
  cancel(): void;
  /** Checkpoint and stop for now; the run ends interrupted and resumes on the next start. */
  interrupt(): void;
  kill(): void;
  readonly exited: Promise<WorkerExit>;
}

export interface ForkWorkerOptions {
  /** CUDA_VISIBLE_DEVICES for this worker; `''` hides every GPU (CPU slots). */
  cudaVisibleDevices?: string;
  /**
   * The slot's GPU as nvidia-smi names it, and which of the GPUs with that name it is (0, 1, …): Vulkan ignores
   * CUDA_VISIBLE_DEVICES, so a webgpu worker picks its adapter by these (src-worker/webgpu-placement.ts).
   */
  gpu?: { name: string; ordinal: number };
  entry?: string;
  stderrTailBytes?: number;
}

/**
 * A worker process that has been started but given no run yet. It loads its modules (tfjs, models, data)
 * while it waits, so a run handed to it starts without that second or so of start-up.
 */
export interface IdleWorker {
  readonly pid: number | undefined;
  readonly alive: boolean;
  start(spec: RunSpec, journalAck: JournalAck | undefined, onEvent: (event: WorkerEvent) => void): WorkerHandle;
  dispose(): void;
}

/** Keeps the last `limit` bytes of a stream, cut at a line start where possible. */
class TailBuffer {
  private text = '';
  constructor(private readonly limit: number) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    const tail = this.text.slice(-this.limit);
    const firstBreak = tail.indexOf('\n');
    return (tail.length === this.text.length || firstBreak < 0 ? tail : tail.slice(firstBreak + 1)).trimEnd();
  }
}

/**
 * Starts one training worker as a plain Node process (ELECTRON_RUN_AS_NODE makes this work from inside
 * Electron's main process too), ready to be given a run.
 */
export function forkWorker(opts: ForkWorkerOptions = {}): IdleWorker {
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  if (opts.cudaVisibleDevices !== undefined) env.CUDA_VISIBLE_DEVICES = opts.cudaVisibleDevices;
  if (opts.gpu) {
    env.NORMLAB_GPU_NAME = opts.gpu.name;
    env.NORMLAB_GPU_ORDINAL = String(opts.gpu.ordinal);
  }
  const entry = opts.entry ?? WORKER_ENTRY;
  const child: ChildProcess = fork(entry, [], {
    execArgv: nodeExecArgvFor(entry),
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const tail = new TailBuffer(opts.stderrTailBytes ?? 4000);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => tail.push(chunk));
  let exitedEarly = false;
  let sawDone = false;
  let listener: ((event: WorkerEvent) => void) | null = null;
  child.on('message', (message) => {
    const event = message as WorkerEvent;
    if (event.event === 'done') sawDone = true;
    listener?.(event);
  });
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedEarly = listener === null;
      // stderr may still hold buffered bytes after 'exit'; 'close' fires once it is drained
      const finish = () => resolve({ code, signal, stderrTail: tail.toString(), sawDone });
      if (child.stderr && !child.stderr.readableEnded) child.stderr.once('close', finish);
      else finish();
    });
  });
  const send = (message: ParentMessage) => {
    if (child.connected) child.send(message);
  };
  return {
    pid: child.pid,
    get alive() {
      return !exitedEarly && child.exitCode === null && child.signalCode === null;
    },
    start(spec, journalAck, onEvent) {
      if (listener) throw new Error('worker process already has a run');
      listener = onEvent;
      send({ type: 'start', spec, journalAck });
      return {
        pid: child.pid,
        cancel: () => send({ type: 'cancel' }),
        interrupt: () => send({ type: 'interrupt' }),
        kill: () => child.kill('SIGKILL'),
        exited,
      };
    },
    dispose() {
      // an idle worker holds no run state, and its open IPC channel would keep this process alive
      if (!listener) child.kill('SIGKILL');
    },
  };
}
