import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { APP_ROOT, RUNNING_BUILT } from '../entry-points';

/** Where `npm run build` puts the renderer, and so where `normlab serve` and the desktop window load it from. */
export const DEFAULT_RENDERER_DIR = join(APP_ROOT, 'out', 'renderer');

export function rendererIsBuilt(dir: string): boolean {
  return existsSync(join(dir, 'index.html'));
}

/**
 * Builds the renderer into out/renderer with the config electron-vite uses, for a checkout running from sources.
 * Vite is a dev dependency: the config module (which imports it) is named at run time, so a build of this file
 * never bundles or imports either.
 */
export async function buildRenderer(log: (line: string) => void = () => {}): Promise<string> {
  if (RUNNING_BUILT) throw new Error(notBuiltMessage());
  const configModule = pathToFileURL(join(APP_ROOT, 'src-renderer', 'vite.renderer.config.ts')).href;
  const { buildRendererInto, rendererOutDir } = (await import(/* @vite-ignore */ configModule)) as typeof import('../../src-renderer/vite.renderer.config');
  const outDir = rendererOutDir(APP_ROOT);
  log(`building the user interface into ${outDir} …`);
  return buildRendererInto(APP_ROOT, outDir);
}

function notBuiltMessage(): string {
  return `the user interface is not built: ${DEFAULT_RENDERER_DIR} has no index.html; run \`npm run build\` in ${APP_ROOT}, or pass --static-dir DIR`;
}

/**
 * The folder `normlab serve` serves the user interface from: --static-dir, else the build's out/renderer. Only a
 * checkout running from sources builds a missing one (a convenience for developers); the build fails instead,
 * naming `npm run build`.
 */
export async function ensureRenderer(dir: string | undefined, log: (line: string) => void): Promise<string> {
  if (dir) {
    if (!rendererIsBuilt(dir)) throw new Error(`--static-dir ${dir} has no index.html`);
    return dir;
  }
  if (rendererIsBuilt(DEFAULT_RENDERER_DIR)) return DEFAULT_RENDERER_DIR;
  if (RUNNING_BUILT) throw new Error(notBuiltMessage());
  return buildRenderer(log);
}
