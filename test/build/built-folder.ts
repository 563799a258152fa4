import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** What a folder running the build must do without: the TypeScript runner and the compiler under it. */
export const LEFT_OUT_PACKAGES = ['tsx', 'esbuild', '@esbuild', '.bin'];

/** `npm run build` (electron-vite build) into `outDir` instead of the checkout's out/, which other tests use. */
export async function buildInto(outDir: string): Promise<number> {
  const started = performance.now();
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'electron-vite'), ['build', '--outDir', outDir], {
    cwd: ROOT,
    timeout: 180_000,
  });
  return performance.now() - started;
}

/**
 * Lays out `dir` the way an installed NormLab looks: package.json, bin/, the build's out/ (already there) and a
 * node_modules of links to the checkout's packages, except tsx and esbuild (and .bin, whose links point into them).
 */
export function assembleBuiltFolder(dir: string): void {
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'normlab.mjs'), join(dir, 'bin', 'normlab.mjs'));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (LEFT_OUT_PACKAGES.includes(name)) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
  }
}

/** Every file under `dir`, relative to it, not following links (node_modules is links to elsewhere). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}
