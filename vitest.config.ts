import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  plugins: [vue()],
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // tfjs-wasm is single-threaded per process; two forks keep both cores busy on CI.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    environment: 'node',
  },
});
