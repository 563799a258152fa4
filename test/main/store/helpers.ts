import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunSpec, type RunSpec, type RunSpecInput } from '../../../src-worker/run-spec';
import type { EpochMetrics, FinalMetrics } from '../../../src-worker/protocol';

/** A fresh folder per test file; returns the folder and a cleanup for afterAll. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `normlab-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function spec(overrides: Partial<RunSpecInput> = {}): RunSpec {
  return parseRunSpec({ model: 'knresnet18', dataset: 'synthetic', epochs: 3, batchSize: 32, lr: 0.1, ...overrides });
}

export function epochMetrics(overrides: Partial<EpochMetrics> = {}): EpochMetrics {
  return {
    train_loss: 1, train_acc: 0.5, test_loss: 1.2, test_acc: 0.45, test_acc5: 0.9, lr: 0.1,
    epoch_time_s: 2, images_per_s: 100, num_tensors: 50, ...overrides,
  };
}

export function finalMetrics(overrides: Partial<FinalMetrics> = {}): FinalMetrics {
  return {
    test_acc: 0.5, test_acc5: 0.9, test_loss: 1.1, train_loss: 0.9, train_acc: 0.6, best_test_acc: 0.55,
    epochs_completed: 3, ...overrides,
  };
}

/** Sample SD (n − 1), computed the textbook way, for checking the store's SQL. */
export function sampleSd(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
}
