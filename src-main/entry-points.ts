import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeExecArgvFor } from './node-runtime';

/**
 * The Node processes NormLab starts as children, each by its TypeScript source; `npm run build` compiles each to
 * out/main/<name>.js (electron.vite.config.ts builds from this table), so a child added here is both built and
 * found.
 */
export const CHILD_ENTRIES = {
  /** one training run per process (the scheduler's workers) */
  worker: 'src-worker/main.ts',
  /** one run from a file, no parent process: what a Slurm job script starts on a compute node */
  'batch-worker': 'src-worker/batch-main.ts',
  /** one `normlab doctor` probe per process: a native addon that crashes takes only the probe down */
  'probe-child': 'src-main/doctor/probe-child.ts',
  /** store + scheduler + service away from Electron's main thread (a utilityProcess, or a Node child) */
  'core-process': 'src-main/core/core-process.ts',
} as const;

export type ChildEntryName = keyof typeof CHILD_ENTRIES;

/** Where the build puts the Node side (Electron's main, the CLI, the child entries), relative to the app root. */
export const BUILT_NODE_DIR = join('out', 'main');

const thisFile = fileURLToPath(import.meta.url);

/**
 * Whether this process runs the build's JavaScript rather than the TypeScript sources (tsx, vitest). Every choice
 * below follows it, so a built process starts built children and a process on the sources starts the sources:
 * an edited source is never paired with a stale build, and the build never needs tsx.
 */
export const RUNNING_BUILT = !/\.[cm]?ts$/.test(thisFile);

function findAppRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`NormLab found no package.json in ${start} or any folder above it`);
  }
}

/**
 * The folder that holds package.json: the checkout, an installed package, or the packaged app's app.asar. Found by
 * walking up, because bundling moves this module (out/main/ or out/main/chunks/) and sources sit one level down.
 */
export const APP_ROOT = findAppRoot(dirname(thisFile));

export interface NodeEntry {
  /** the file to fork */
  file: string;
  /** the Node flags it needs (tsx's loader for a source, none for the build) */
  execArgv: string[];
}

/** How to start a child process: out/main/<name>.js when this code is built, its .ts source through tsx otherwise. */
export function childEntry(name: ChildEntryName): NodeEntry {
  const file = RUNNING_BUILT ? join(APP_ROOT, BUILT_NODE_DIR, `${name}.js`) : join(APP_ROOT, CHILD_ENTRIES[name]);
  return { file, execArgv: nodeExecArgvFor(file) };
}
