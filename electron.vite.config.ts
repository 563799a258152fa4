import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { CHILD_ENTRIES } from './src-main/entry-points';
import { rendererConfig } from './src-renderer/vite.renderer.config';

/**
 * `npm run build`: everything that runs is JavaScript under out/, nothing is compiled at run time.
 *
 *   out/main/index.js          Electron's main process
 *   out/main/cli.js            the CLI (bin/normlab.mjs imports it); out/main/commands/<name>.js, one per command,
 *                              found by cli/main.ts the way it finds src-main/cli/commands/*.ts from sources
 *   out/main/<child>.js        the processes NormLab starts: worker, batch-worker, probe-child, core-process
 *                              (CHILD_ENTRIES in src-main/entry-points.ts, which also finds them at run time)
 *   out/main/chunks/           code those share
 *   out/preload/index.cjs      the preload
 *   out/renderer/              the user interface (also what `normlab serve` serves)
 *
 * npm packages stay external (imported from node_modules at run time): tfjs-backend-wasm finds its .wasm files
 * next to its package, and better-sqlite3, sharp and webgpu are native addons.
 */
const pkg = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as {
  engines: { node: string };
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

const COMMANDS_DIR = resolve('src-main/cli/commands');
const commandEntries = Object.fromEntries(
  readdirSync(COMMANDS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => [`commands/${basename(f, '.ts')}`, resolve(COMMANDS_DIR, f)]),
);
const childEntries = Object.fromEntries(Object.entries(CHILD_ENTRIES).map(([name, source]) => [name, resolve(source)]));

/** The CLI and the workers run on plain Node too, not only inside Electron: build for the oldest Node we support. */
const nodeTarget = `node${/\d+(\.\d+)?/.exec(pkg.engines.node)?.[0] ?? '20'}`;

/**
 * The packaged app ships no dev dependencies (tsx, vite, …): a static import of one from the main-process code
 * would either be bundled in or fail at run time there, so the build stops and names it. Electron itself is a dev
 * dependency that the runtime provides.
 */
function noDevDependencies(): Plugin {
  const dev = new Set(Object.keys(pkg.devDependencies ?? {}).filter((name) => name !== 'electron'));
  const packageOf = (id: string) => (id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0]);
  return {
    name: 'normlab:no-dev-dependencies',
    enforce: 'pre',
    resolveId(source, importer) {
      if (dev.has(packageOf(source) ?? '')) {
        this.error(`${importer ?? 'an entry'} imports "${source}", a devDependency: the built app does not ship it`);
      }
      return null;
    },
  };
}

/**
 * electron-vite gives every ES chunk that mentions `require(` or `require.resolve(` a CommonJS shim,
 * `const require = createRequire(import.meta.url)`, which collides with a module's own identical declaration
 * (src-worker/backend.ts has one) and makes the chunk a SyntaxError at load. The shim's binding is the same
 * function, so the module's own declaration is dropped; any other `require` declaration stops the build.
 */
function oneRequirePerChunk(): Plugin {
  const shim = 'const require = __shims_module__.createRequire(import.meta.url);';
  const own = /^(?:var|let|const) require = createRequire\(import\.meta\.url\);\n/gm;
  return {
    name: 'normlab:one-require-per-chunk',
    enforce: 'post',
    renderChunk(code, chunk) {
      if (!code.includes(shim)) return null;
      const deduplicated = code.replace(own, '');
      if (/^(?:var|let|const) require\b/m.test(deduplicated.replace(shim, ''))) {
        this.error(`${chunk.fileName} declares its own \`require\` beside electron-vite's CommonJS shim; name it differently`);
      }
      return deduplicated === code ? null : { code: deduplicated, map: null };
    },
  };
}

// Sources live in src-main/ and src-renderer/ rather than electron-vite's default src/{main,preload,renderer}.
export default defineConfig({
  main: {
    plugins: [noDevDependencies(), oneRequirePerChunk()],
    build: {
      outDir: 'out/main',
      target: nodeTarget,
      // the optional native tfjs packages are imported by a computed name, but must never be bundled either
      externalizeDeps: { include: Object.keys(pkg.optionalDependencies ?? {}) },
      rolldownOptions: {
        input: {
          index: resolve('src-main/electron/main.ts'),
          cli: resolve('src-main/cli/main.ts'),
          ...commandEntries,
          ...childEntries,
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: {
        input: { index: resolve('src-main/electron/preload.ts') },
        // a sandboxed preload cannot be an ES module; .cjs keeps Node from reading it as ESM under "type": "module"
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererConfig(),
});
