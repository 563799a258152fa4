import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import type { UserConfig } from 'vite';

/**
 * The renderer build, shared by electron-vite (desktop app) and `normlab serve` (which builds it on demand),
 * so the browser and the desktop window run the very same bundle. Paths come from the project root passed in:
 * bundled config files do not keep a trustworthy import.meta.dirname.
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
