import { utilityProcess, type UtilityProcess } from 'electron';
import { StderrTail, type CoreChannel, type CoreExit } from '../core/core-channel';
import type { ToCore } from '../core/protocol';

/**
 * Starts the core entry (out/main/core-process.js) as an Electron utilityProcess: a Node process of Electron's
 * own, so synchronous SQLite, the scheduler and CSV exports never block the window's main process.
 */
export function forkUtilityCore(entry: string): CoreChannel {
  const child: UtilityProcess = utilityProcess.fork(entry, [], {
    serviceName: 'NormLab core',
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const tail = new StderrTail();
  child.stderr?.on('data', (chunk: Buffer | string) => {
    const text = String(chunk);
    tail.push(text);
    process.stderr.write(text);
  });
  // messages posted before the process is up are held here, then sent in order
  let queued: ToCore[] | null = [];
  child.once('spawn', () => {
    for (const message of queued ?? []) child.postMessage(message);
    queued = null;
  });
  let exit: CoreExit | null = null;
  const exitListeners: ((exit: CoreExit) => void)[] = [];
  child.once('exit', (code) => {
    // a utilityProcess reports only a code: a crash or a kill shows as a non-zero one
    exit = { code, signal: null, stderrTail: tail.toString() };
    queued = null;
    for (const listener of exitListeners.splice(0)) listener(exit);
  });
  return {
    get pid() {
      return child.pid;
    },
    send(message) {
      if (exit) throw new Error(`it has exited (code ${exit.code})`);
      if (queued) queued.push(message);
      else child.postMessage(message);
    },
    onMessage(listener) {
      child.on('message', (message: unknown) => listener(message));
    },
    onExit(listener) {
      if (exit) listener(exit);
      else exitListeners.push(listener);
    },
    kill() {
      child.kill();
    },
  };
}
