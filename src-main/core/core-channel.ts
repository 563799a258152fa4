import { fork } from 'node:child_process';
import { childEntry } from '../entry-points';
import { nodeExecArgvFor } from '../node-runtime';
import type { ToCore } from './protocol';

/** out/main/core-process.js when running built, src-main/core/core-process.ts otherwise (src-main/entry-points.ts). */
export const CORE_ENTRY = childEntry('core-process').file;

export interface CoreExit {
  code: number | null;
  signal: string | null;
  /** The last lines the core wrote to stderr: why it died, when it did. */
  stderrTail: string;
}

/** A started core process as CoreClient needs it, whatever started it (child_process.fork or utilityProcess). */
export interface CoreChannel {
  readonly pid: number | undefined;
  /** Throws when the process can no longer be reached. */
  send(message: ToCore): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once, after the process has exited and its stderr is read to the end. */
  onExit(listener: (exit: CoreExit) => void): void;
  kill(): void;
}

/** Keeps the last `limit` characters of a stream, cut at a line start where possible. */
export class StderrTail {
  private text = '';
  constructor(private readonly limit = 4000) {}
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

export interface ForkNodeCoreOptions {
  /** The entry to run: CORE_ENTRY by default; a `.ts` entry runs through tsx, a built `.js` one as it is. */
  entry?: string;
  env?: NodeJS.ProcessEnv;
  /** Also copy the core's stderr (its log) to this process's stderr (default true). */
  echoStderr?: boolean;
}

/** Starts the core entry as a plain Node child process with an IPC channel. */
export function forkNodeCore(opts: ForkNodeCoreOptions = {}): CoreChannel {
  const entry = opts.entry ?? CORE_ENTRY;
  const child = fork(entry, [], {
    execArgv: nodeExecArgvFor(entry),
    // from inside Electron, process.execPath is Electron itself: this makes it behave as Node
    env: { ...(opts.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    // structured clone, as a utilityProcess port uses: replies arrive in the same shape over both
    serialization: 'advanced',
  });
  const tail = new StderrTail();
  const echo = opts.echoStderr ?? true;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail.push(chunk);
    if (echo) process.stderr.write(chunk);
  });
  const exitListeners: ((exit: CoreExit) => void)[] = [];
  let exit: CoreExit | null = null;
  child.once('exit', (code, signal) => {
    // stderr may still hold buffered bytes after 'exit'; 'close' fires once it is drained
    const finish = () => {
      exit = { code, signal, stderrTail: tail.toString() };
      for (const listener of exitListeners.splice(0)) listener(exit);
    };
    if (child.stderr && !child.stderr.readableEnded) child.stderr.once('close', finish);
    else finish();
  });
  // a fork that fails to start reports 'error' and then 'exit'; without a listener it would throw here
  child.on('error', (error) => tail.push(`could not run the core process: ${error.message}\n`));
  return {
    pid: child.pid,
    send(message) {
      if (!child.connected) throw new Error('its IPC channel is closed');
      child.send(message);
    },
    onMessage: (listener) => {
      child.on('message', (message: unknown) => listener(message));
    },
    onExit(listener) {
      if (exit) listener(exit);
      else exitListeners.push(listener);
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}
