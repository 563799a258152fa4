import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../main/store/helpers';
import { normlab as runNormlab } from './normlab-cli';

const tmp = tempDir('bad-input');
afterAll(() => tmp.cleanup());

/**
 * How long one CLI process may take before it is killed, so a command that never returns fails the test instead of
 * hanging it. Each process starts Node and tsx from sources; on a loaded CI machine that alone took over 30 s when
 * several start at once, so the limit is far above a healthy run (a few seconds) and still well below forever.
 */
const PROCESS_LIMIT_MS = 90_000;
/** A test that waits for two rounds of processes, one after the other, may take both limits. */
const TWO_ROUNDS_MS = 2 * PROCESS_LIMIT_MS + 10_000;

const normlab = (args: string[]) => runNormlab(args, { cacheDir: join(tmp.dir, 'cache'), timeoutMs: PROCESS_LIMIT_MS });

const small = ['--dataset', 'synthetic', '--synthetic-train-size', '50', '--synthetic-test-size', '10', '--backend', 'wasm', '--epochs', '1', '--lr', '0.1'];

describe('usage errors exit with 2, as `normlab train --help` promises', () => {
  it('for bad flag values, unknown flags, choices and missing options, on train and the other commands; --help stays 0', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--model', 'cnn', ...small, '--batch-size', 'two'], /option '--batch-size <n>' argument 'two' is invalid\. expected a positive integer, got "two"/],
      [['train', '--model', 'cnn', ...small, '--batch-size', '8', '--bogus'], /unknown option '--bogus'/],
      [['train', '--model', 'cnn', ...small, '--batch-size', '8', '--backend', 'gpu'], /option '--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, tensorflow, webgpu, wasm, cpu/],
      [['export', '--db', join(tmp.dir, 'x.db')], /required option '--what <kind>' not specified/],
      [['privacy', '--noise', '1', '--steps', '10'], /required option '--sample-rate <q>' not specified/],
      [['privacy', '--noise', 'lots', '--sample-rate', '0.1', '--steps', '10'], /privacy: --noise must be a number, got "lots"/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    const results = await Promise.all(cases.map(([args]) => normlab(args)));
    for (const [i, [args, message]] of cases.entries()) {
      expect({ args, code: results[i].code }).toEqual({ args, code: 2 });
      expect(results[i].stderr).toMatch(message);
      expect(results[i].stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // a message, not a stack trace
    }
    const help = await normlab(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/exit codes: 0 finished, 1 failed,\s+2 invalid/);
  }, TWO_ROUNDS_MS);
});

describe('a batch larger than the training set', () => {
  it('is refused before training, naming the batch, the set and its size (exit 2)', async () => {
    const plain = await normlab(['train', '--model', 'cnn', ...small, '--batch-size', '64', '--json']);
    expect(plain.code).toBe(2);
    const events = plain.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; reason?: string });
    expect(events.map((e) => e.event)).toEqual(['error', 'done']);
    expect(events[0].reason).toBe(
      'batch size 64 is larger than the training set (50 images of synthetic); lower --batch-size / batchSize or raise --synthetic-train-size / syntheticTrainSize',
    );
    const dp = await normlab(['train', '--model', 'kn_cnn', ...small, '--batch-size', '8', '--dp', '--logical-batch', '64', '--noise-multiplier', '1']);
    expect(dp.code).toBe(2);
    expect(dp.stderr).toContain('normlab train: the DP-SGD logical batch 64 is larger than the training set (50 images of synthetic)');
  }, TWO_ROUNDS_MS);
});

describe('a batch larger than an image-folder training set', () => {
  it('is refused once the folder is counted, before training (exit 2)', async () => {
    const dir = join(tmp.dir, 'folder-set');
    for (const [split, cls, n] of [['train', 'cat', 2], ['train', 'dog', 1], ['val', 'cat', 1], ['val', 'dog', 1]] as const) {
      for (let i = 0; i < n; i++) {
        mkdirSync(join(dir, split, cls), { recursive: true });
        await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 40 * i, g: 90, b: 10 } } }).png().toFile(join(dir, split, cls, `${i}.png`));
      }
    }
    const r = await normlab(['train', '--model', 'cnn', '--dataset', 'folder', '--data-dir', dir, '--image-size', '16', '--batch-size', '8',
      '--backend', 'wasm', '--epochs', '1', '--lr', '0.1', '--json']);
    expect(r.code).toBe(2);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; reason?: string });
    expect(events.map((e) => e.event)).toEqual(['error', 'done']);
    expect(events[0].reason).toBe('batch size 8 is larger than the training set (3 images of folder); lower --batch-size / batchSize');
  });
});

describe('normlab privacy with no steps', () => {
  it('reports ε = 0 (nothing spent), and refuses to calibrate σ for no steps instead of never returning', async () => {
    const [human, json, calibrate, fromEpochs] = await Promise.all([
      normlab(['privacy', '--noise', '1', '--sample-rate', '0.1', '--steps', '0']),
      normlab(['privacy', '--noise', '1', '--sample-rate', '0.1', '--steps', '0', '--json']),
      normlab(['privacy', '--target-epsilon', '8', '--sample-rate', '0.1', '--steps', '0']),
      normlab(['privacy', '--target-epsilon', '8', '--sample-rate', '0.1', '--epochs', '0.05']),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ε = 0\.0000 at δ = 8e-7 \(no steps: nothing spent\)\n/);
    expect(JSON.parse(json.stdout)).toEqual({ epsilon: 0, order: null });
    expect({ code: calibrate.code, signal: calibrate.signal }).toEqual({ code: 2, signal: null });
    expect(calibrate.stderr).toContain('normlab: privacy: --target-epsilon needs at least one step (--steps 0): no steps spend no privacy at any σ');
    expect(fromEpochs.code).toBe(2);
    expect(fromEpochs.stderr).toContain('(--epochs 0.05 at --sample-rate 0.1 is 0 steps)');
  });
});

describe('another program\'s SQLite file as --db', () => {
  it('is refused by export and by sweep, naming the file and its tables, and is left untouched', async () => {
    const file = join(tmp.dir, 'contacts.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO contacts (name) VALUES ('Ada')`);
    db.close();
    const before = readFileSync(file);
    const spec = join(tmp.dir, 'sweep.json');
    writeFileSync(spec, JSON.stringify({ name: 'x', base: { model: 'cnn', dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 } }));
    const [exported, swept] = await Promise.all([
      normlab(['export', '--db', file, '--what', 'runs']),
      normlab(['sweep', spec, '--db', file, '--workers', '1']),
    ]);
    const message = `cannot open experiment store ${file}: it is not a NormLab experiment store: it has no NormLab marker and holds a table of some other program: contacts`;
    for (const r of [exported, swept]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('recipes that cannot be combined are bad requests (exit 2), named', () => {
  it('AdamW with DP-SGD', async () => {
    const r = await normlab(['train', '--model', 'kn_cnn', ...small, '--batch-size', '10', '--optimizer', 'adamw', '--dp', '--logical-batch', '10', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/DP-SGD trains with SGD; --optimizer adamw cannot be combined with --dp/);
  });
});
