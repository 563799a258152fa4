import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkerEvent } from '../../src-worker/protocol';
import { SWIFTSHADER_ICD } from './webgpu';

const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');

describe('normlab train --backend webgpu', () => {
  it('trains kn_cnn for 2 epochs on the software adapter, reports the adapter, learns, and keeps tensors flat', { timeout: 300_000 }, () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'normlab-webgpu-train-'));
    const result = spawnSync(process.execPath, [
      BIN, 'train', '--model', 'kn_cnn', '--dataset', 'synthetic', '--synthetic-train-size', '256', '--synthetic-test-size', '64',
      '--epochs', '2', '--batch-size', '32', '--lr', '0.05', '--width', '0.25', '--backend', 'webgpu', '--stats-every', '4',
      '--checkpoint-dir', join(dir, 'ckpt'), '--json',
    ], {
      encoding: 'utf8', timeout: 300_000,
      env: { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? os.tmpdir() },
    });
    expect(result.status, result.stderr.slice(-3000)).toBe(0);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as WorkerEvent);
    const started = events.find((e) => e.event === 'started');
    expect(started).toMatchObject({ backend: 'webgpu', device: expect.stringMatching(/^webgpu:.*\(software\)$/), adapter: { software: true } });
    const epochs = events.flatMap((e) => (e.event === 'epoch' ? [e.metrics] : []));
    expect(epochs).toHaveLength(2);
    // it learns: the loss falls and the test accuracy is well above chance (10 classes)
    expect(epochs[1].train_loss).toBeLessThan(epochs[0].train_loss);
    expect(epochs[1].test_acc).toBeGreaterThan(0.2);
    // statistics were read (asynchronously) and tensors stay flat from one epoch to the next
    expect(events.filter((e) => e.event === 'norm_stats').length).toBeGreaterThanOrEqual(4);
    expect(epochs[1].num_tensors).toBe(epochs[0].num_tensors);
    expect(events.at(-1)).toMatchObject({ event: 'done', status: 'finished' });
  });
});
