import { fork } from 'node:child_process';
import { childEntry } from '../entry-points';
import type { ProbeRequest } from './probe-protocol';

export interface ChildOutcome<M> {
  /** The messages the child sent, in order (a probe sends what it knows before a step that may crash it). */
  messages: M[];
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
  wallMs: number;
}

export interface RunProbeOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs one probe in its own Node process: a native addon that fails to load can abort the process, and Dawn can
 * crash on a broken driver; neither may take the doctor down with it. Never rejects.
 */
export function runProbe<M>(request: ProbeRequest, opts: RunProbeOptions): Promise<ChildOutcome<M>> {
  const started = performance.now();
  return new Promise((resolve) => {
    const messages: M[] = [];
    let stderr = '';
    let timedOut = false;
    let child: ReturnType<typeof fork>;
    try {
      // out/main/probe-child.js when running built, probe-child.ts through tsx otherwise
      const probe = childEntry('probe-child');
      child = fork(probe.file, [JSON.stringify(request)], {
        execArgv: probe.execArgv,
        // ELECTRON_RUN_AS_NODE: a plain Node process when the doctor runs inside Electron's main process
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...opts.env },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
    } catch (err) {
      resolve({ messages, code: null, signal: null, timedOut, stderr: String(err), wallMs: performance.now() - started });
      return;
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 200_000) stderr += chunk;
    });
    child.on('message', (m) => messages.push(m as M));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const finish = () => resolve({ messages, code, signal, timedOut, stderr, wallMs: performance.now() - started });
      if (child.stderr && !child.stderr.readableEnded) child.stderr.once('close', finish);
      else finish();
    });
  });
}

/** How a probe process ended, for a report line: `exited with code 1`, `killed by SIGABRT`, `timed out after 15 s`. */
export function describeExit(outcome: ChildOutcome<unknown>, timeoutMs: number): string {
  if (outcome.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)} s`;
  if (outcome.signal) return `the probe process was killed by ${outcome.signal}`;
  return `the probe process exited with code ${outcome.code}`;
}

/** The last meaningful stderr line (not a stack frame), for a one-line reason. */
export function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ') && l !== '^' && !/^Node\.js v/.test(l));
  return lines.at(-1);
}
