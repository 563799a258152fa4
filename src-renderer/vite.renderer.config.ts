import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import type { UserConfig } from 'vite';

/**
 * The renderer build, shared by electron-vite (desktop app) and `normlab serve` (which builds it on demand),
 * so the browser and the desktop window run the very same bundle.
 */
export const rendererRoot = resolve(import.meta.dirname, '.');
export const rendererOutDir = resolve(import.meta.dirname, '..', 'out', 'renderer');

export function rendererConfig(): UserConfig {
  return {
    root: rendererRoot,
    // relative asset URLs: the bundle is loaded from file:// in Electron and from / in `normlab serve`
    base: './',
    plugins: [vue()],
    build: {
      outDir: rendererOutDir,
      emptyOutDir: true,
      target: 'chrome130',
      reportCompressedSize: false,
      chunkSizeWarningLimit: 2000,
      rolldownOptions: { input: resolve(rendererRoot, 'index.html') },
    },
  };
}
