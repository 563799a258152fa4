import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normlab as runNormlab } from './normlab-cli';

const scratch = mkdtempSync(join(tmpdir(), 'normlab-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const normlab = (args: string[]) => runNormlab(args, { cacheDir: join(scratch, 'cache') });

const small = ['--dataset', 'synthetic', '--synthetic-train-size', '256', '--synthetic-test-size', '64', '--batch-size', '32', '--backend', 'wasm'];

describe('normlab train', () => {
  it('--json prints one event per line and ends with the done line and its metrics', async () => {
    const r = await normlab(['train', '--model', 'kn_cnn', ...small, '--epochs', '2', '--lr', '0.05', '--seed', '3', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ event: 'started', backend: 'wasm' });
    expect(lines.filter((l) => l.event === 'epoch')).toHaveLength(2);
    const done = lines.at(-1)!;
    expect(done).toMatchObject({ event: 'done', status: 'finished' });
    const m = done.metrics as Record<string, number>;
    for (const key of ['test_acc', 'test_acc5', 'test_loss', 'train_loss', 'train_acc']) {
      expect(typeof m[key], key).toBe('number');
    }
    expect(m.test_acc).toBeGreaterThanOrEqual(0);
    expect(m.test_acc).toBeLessThanOrEqual(1);
    expect(m.test_acc5).toBeGreaterThanOrEqual(m.test_acc);
  });

  it('--dp --json trains with DP-SGD: every epoch event carries ε, rising, and the run ends with done', async () => {
    const r = await normlab(['train', '--model', 'kn_cnn', ...small, '--epochs', '2', '--lr', '2', '--momentum', '0', '--weight-decay', '0',
      '--dp', '--logical-batch', '128', '--max-grad-norm', '1', '--target-epsilon', '8', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const epochs = lines.filter((l) => l.event === 'epoch').map((l) => l.metrics as Record<string, number | null>);
    expect(epochs).toHaveLength(2);
    expect(epochs[0].epsilon).toBeGreaterThan(0);
    expect(epochs[1].epsilon).toBeGreaterThan(epochs[0].epsilon!);
    expect(epochs[1].epsilon).toBeLessThanOrEqual(8 + 1e-6);
    expect(epochs[0].train_acc).toBeNull(); // NaN (not measured under DP) in JSON
    expect(lines.at(-1)).toMatchObject({ event: 'done', status: 'finished' });
  });

  it('cifar without --data-dir says to pass it or run normlab download (exit 2)', async () => {
    const r = await normlab(['train', '--model', 'kn_cnn', '--dataset', 'cifar100', '--epochs', '1', '--batch-size', '8', '--lr', '0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data-dir.*normlab download cifar100/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown model lists the valid ones; a missing field names its flag', async () => {
    const unknown = await normlab(['train', '--model', 'resnet7', ...small, '--epochs', '1', '--lr', '0.1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown model "resnet7"; valid models: .*knresnet18/);
    const missing = await normlab(['train', '--model', 'cnn', ...small, '--lr', '0.1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--epochs: /);
  });

  it('a bad number is a usage error naming the flag', async () => {
    const r = await normlab(['train', '--model', 'cnn', ...small, '--epochs', 'two', '--lr', '0.1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--epochs <n>.*expected a positive integer, got "two"/);
  });

  it('a diverging run exits with code 3', async () => {
    const r = await normlab(['train', '--model', 'cnn', ...small, '--epochs', '1', '--lr', '1e8', '--schedule', 'constant', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ event: 'done', status: 'diverged' });
  });
});
