import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import type { UserConfig } from 'vite';

/**
 * The renderer build, shared by electron-vite (desktop app; `npm run build`), `normlab serve` from sources (which
 * builds it on demand) and tests, so the browser and the desktop window run the very same bundle. Paths come from
 * the project root passed in: bundled config files do not keep a trustworthy import.meta.dirname.
 */
export function rendererOutDir(projectRoot: string): string {
  return resolve(projectRoot, 'out', 'renderer');
}

export function rendererConfig(projectRoot: string = process.cwd()): UserConfig {
  const root = resolve(projectRoot, 'src-renderer');
  return {
    root,
    // relative asset URLs: the bundle is loaded from file:// in Electron and from / in `normlab serve`
    base: './',
    plugins: [vue()],
    build: {
      outDir: rendererOutDir(projectRoot),
      emptyOutDir: true,
      target: 'chrome130',
      reportCompressedSize: false,
      chunkSizeWarningLimit: 2000,
      rolldownOptions: { input: resolve(root, 'index.html') },
    },
  };
}

/** Builds the renderer into `outDir` with this config; Vite is loaded only here (it is a dev dependency). */
export async function buildRendererInto(projectRoot: string, outDir: string): Promise<string> {
  const { build } = await import('vite');
  const config = rendererConfig(projectRoot);
  await build({ ...config, configFile: false, logLevel: 'warn', build: { ...config.build, outDir } });
  return outDir;
}
