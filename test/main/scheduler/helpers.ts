import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'normlab-sched-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A sweep small enough for CI: width-0.25 toy networks on a few hundred synthetic images. */
export function tinySweep(name: string, overrides: { models?: string[]; seeds?: number[]; epochs?: number; lr?: number[] } = {}) {
  return {
    name,
    base: {
      dataset: 'synthetic',
      syntheticTrainSize: 256,
      syntheticTestSize: 128,
      epochs: overrides.epochs ?? 1,
      batchSize: 32,
      width: 0.25,
      backend: 'wasm',
      progressEvery: 2,
    },
    grid: { model: overrides.models ?? ['cnn'], lr: overrides.lr ?? [0.05] },
    seeds: overrides.seeds ?? [1],
  };
}

export async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
