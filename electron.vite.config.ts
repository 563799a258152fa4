import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './src-renderer/vite.renderer.config';

// Sources live in src-main/ and src-renderer/ rather than electron-vite's default src/{main,preload,renderer}.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rolldownOptions: { input: { index: resolve('src-main/electron/main.ts') } },
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
