import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// not named `require`: electron-vite's build declares a `require` of its own in every chunk that mentions one
const nodeRequire = createRequire(import.meta.url);

/** execArgv that lets a forked Node process run our TypeScript sources directly (a dev checkout, tests). */
export function tsNodeExecArgv(): string[] {
  const tsxLoader = pathToFileURL(nodeRequire.resolve('tsx')).href;
  return ['--import', tsxLoader];
}

/**
 * The Node flags a forked process needs to start at `file`: tsx's loader for a TypeScript source, none for built
 * JavaScript. Deciding by the file keeps a caller that passes its own entry (tests, a custom worker) right in both
 * modes, and never asks for tsx where it is not installed (the packaged app).
 */
export function nodeExecArgvFor(file: string): string[] {
  return /\.[cm]?ts$/.test(file) ? tsNodeExecArgv() : [];
}
