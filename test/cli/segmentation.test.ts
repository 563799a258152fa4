import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normlab as runNormlab } from './normlab-cli';

const scratch = mkdtempSync(join(tmpdir(), 'normlab-cli-seg-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const normlab = (args: string[]) => runNormlab(args, { cacheDir: join(scratch, 'cache') });

describe('normlab segmentation from the command line', () => {
  const dataDir = join(scratch, 'cityscapes');

  it('writes the synthetic set, then trains fc_knresnet18 on it and reports test_miou per epoch', async () => {
    const written = await normlab(['generate', 'cityscapes-synthetic', '--data-dir', dataDir, '--train-images', '4', '--val-images', '2', '--size', '64,32']);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toContain('4 train and 2 val images of 64×32 written to');
    const r = await normlab([
      'train', '--model', 'fc_knresnet18', '--dataset', 'cityscapes', '--data-dir', dataDir, '--epochs', '2', '--batch-size', '2',
      '--lr', '0.05', '--width', '0.125', '--crop-size', '32,16', '--low-resolution', '--schedule', 'poly', '--backend', 'wasm', '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; metrics?: Record<string, number | null> });
    const epochs = lines.filter((l) => l.event === 'epoch');
    expect(epochs).toHaveLength(2);
    for (const e of epochs) {
      expect(e.metrics?.test_miou).toBeGreaterThanOrEqual(0);
      expect(e.metrics?.test_miou).toBeLessThanOrEqual(1);
      expect(e.metrics?.test_pixel_acc).toBe(e.metrics?.test_acc);
    }
    expect(lines.at(-1)).toMatchObject({ event: 'done', status: 'finished' });
  });

  it('refuses a classifier on Cityscapes with exit code 2, naming both', async () => {
    const r = await normlab(['train', '--model', 'resnet18_bn', '--dataset', 'cityscapes', '--data-dir', dataDir, '--epochs', '1', '--batch-size', '2', '--lr', '0.1', '--backend', 'wasm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('model resnet18_bn is a classifier, but data set cityscapes is a segmentation set');
  });
});
