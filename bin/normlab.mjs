#!/usr/bin/env node
/**
 * The `normlab` command. Which code it runs:
 *
 *   - A checkout (src-main/ next to bin/) with tsx installed runs the TypeScript sources through tsx, always: an
 *     edit takes effect on the next call, and an out/ left over from an earlier `npm run build` can never shadow it.
 *   - Everywhere else (an installed package, the packaged app, a checkout installed without dev dependencies) runs
 *     the build, out/main/cli.js, on plain Node: no tsx, nothing compiled at run time.
 *   - NORMLAB_BUILT=1 runs the build in a checkout too (to try or time it), and NORMLAB_BUILT=0 insists on the
 *     sources. Whenever a checkout runs the build, a source file newer than it is named on stderr: stale code may
 *     run, but never silently.
 *
 * The child processes follow: a built CLI forks out/main/worker.js, the sources fork src-worker/main.ts through tsx
 * (src-main/entry-points.ts), so one call never mixes built and source code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builtCli = join(root, 'out', 'main', 'cli.js');
// what the build is made from: the CLI and its children, and the user interface `normlab serve` serves
const SOURCE_DIRS = ['src-main', 'src-worker', 'src-renderer'];
const isCheckout = existsSync(join(root, 'src-main'));

function tsxIsInstalled() {
  try {
    createRequire(join(root, 'package.json')).resolve('tsx');
    return true;
  } catch {
    return false;
  }
}

/** The first source file (if any) modified after the build was made. */
function newerSource(builtAt) {
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(path);
        if (found) return found;
      } else if (statSync(path).mtimeMs > builtAt) return path;
    }
    return undefined;
  };
  for (const dir of SOURCE_DIRS) {
    const found = existsSync(join(root, dir)) ? walk(join(root, dir)) : undefined;
    if (found) return found;
  }
  return undefined;
}

function fail(message) {
  process.stderr.write(`normlab: ${message}\n`);
  process.exit(1);
}

const choice = process.env.NORMLAB_BUILT;
if (choice !== undefined && choice !== '0' && choice !== '1') fail(`NORMLAB_BUILT must be 1 (run the build) or 0 (run the sources), got "${choice}"`);
const useSources = choice === '0' || (choice !== '1' && isCheckout && tsxIsInstalled());

if (useSources) {
  if (!isCheckout) fail(`NORMLAB_BUILT=0 asks for the TypeScript sources, but ${join(root, 'src-main')} does not exist`);
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    fail('NORMLAB_BUILT=0 runs the TypeScript sources, which needs tsx: run `npm install` (with dev dependencies)');
  }
  register();
  const { main } = await import('../src-main/cli/main.ts');
  await main(process.argv);
} else {
  if (!existsSync(builtCli)) {
    fail(`${relative(process.cwd(), builtCli) || builtCli} is missing: run \`npm run build\` in ${root}` +
      (isCheckout ? ' (or install the dev dependencies to run the sources through tsx)' : ''));
  }
  if (isCheckout) {
    const stale = newerSource(statSync(builtCli).mtimeMs);
    if (stale) process.stderr.write(`normlab: warning: ${relative(root, stale)} is newer than the build in out/; run \`npm run build\` to include it\n`);
  }
  const { main } = await import(pathToFileURL(builtCli).href);
  await main(process.argv);
}
