import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');
/** Where `electron-vite build` (and the build below) put the renderer. */
export const DEFAULT_RENDERER_DIR = join(PROJECT_ROOT, 'out', 'renderer');

export function rendererIsBuilt(dir: string): boolean {
  return existsSync(join(dir, 'index.html'));
}

/**
 * Builds the renderer with the same Vite config electron-vite uses, so `normlab serve` works from a fresh
 * checkout. Vite is a dev dependency and is only loaded here.
 */
export async function buildRenderer(log: (line: string) => void = () => {}): Promise<string> {
  const { build } = await import('vite');
  const { rendererConfig, rendererOutDir } = await import('../../src-renderer/vite.renderer.config');
  const outDir = rendererOutDir(PROJECT_ROOT);
  log(`building the user interface into ${outDir} …`);
  await build({ ...rendererConfig(PROJECT_ROOT), configFile: false, logLevel: 'warn' });
  return outDir;
}

export async function ensureRenderer(dir: string | undefined, log: (line: string) => void): Promise<string> {
  if (dir) {
    if (!rendererIsBuilt(dir)) throw new Error(`--static-dir ${dir} has no index.html`);
    return dir;
  }
  if (rendererIsBuilt(DEFAULT_RENDERER_DIR)) return DEFAULT_RENDERER_DIR;
  return buildRenderer(log);
}
