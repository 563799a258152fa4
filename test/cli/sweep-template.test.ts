import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { placeholderCifar100 } from '../fixtures/table1-data';
import { tempDir } from '../main/store/helpers';
import { normlab as run } from './normlab-cli';

const tmp = tempDir('cli-sweep-template');
afterAll(() => tmp.cleanup());
const normlab = (args: string[]) => run(args, { timeoutMs: 120_000 });

/** The reference scripts' (model, batch, lr) lines, copied as data (see the fixture's source). */
const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'table1-reference-lrs.json'), 'utf8')) as {
  configs: { model: string; batchSize: number; lr: string }[];
};

interface DryRunLine {
  sweep: string;
  model: string;
  batchSize: number;
  lr: number;
  seed: number;
  epochs: number;
  width: number;
  preset: string;
  dataset: string;
}

describe('normlab sweep --template paper-table1', () => {
  it('--dry-run --json prints the 189 runs it would queue, one JSON object a line, and writes nothing', async () => {
    const dir = join(tmp.dir, 'dry');
    const db = join(dir, 'never.db');
    const r = await normlab(['sweep', '--template', 'paper-table1', '--width', '0.0625', '--epochs', '1', '--db', db, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as DryRunLine);
    expect(lines).toHaveLength(189);
    const lrOf = new Map(reference.configs.map((c) => [`${c.model}@${c.batchSize}`, Number(c.lr)]));
    for (const run of lines) {
      expect(run).toMatchObject({ dataset: 'cifar100', preset: 'cifar100-paper', epochs: 1, width: 0.0625 });
      expect(run.lr).toBe(lrOf.get(`${run.model}@${run.batchSize}`));
      expect([1, 2, 3]).toContain(run.seed);
      expect(run.sweep).toBe('paper-table1 w0.0625 e1');
    }
    expect(new Set(lines.map((l) => `${l.model}@${l.batchSize}@${l.seed}`)).size).toBe(189);
    expect(r.stderr).toContain('189 runs in 1 sweep (dry run: nothing was queued)');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(db)).toBe(false);
  });

  it('exits 2 naming the known templates for an unknown one, and on flags that only go with a template', async () => {
    const db = join(tmp.dir, 'unknown.db');
    const unknown = await normlab(['sweep', '--template', 'paper-table2', '--db', db]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown sweep template "paper-table2" (known: paper-table1)');
    expect(existsSync(db)).toBe(false);
    const spec = join(tmp.dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 's', base: { model: 'cnn', dataset: 'synthetic', epochs: 1, batchSize: 8, lr: 0.1 } }));
    const stray = await normlab(['sweep', spec, '--width', '0.5', '--db', db]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--width only apply with --template');
    const both = await normlab(['sweep', spec, '--template', 'paper-table1', '--db', db]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give a sweep spec file or --template, not both');
    expect(existsSync(db)).toBe(false);
  });

  it('--queue-only queues all 189 runs in one sweep with the data folder and exits', async () => {
    const dataDir = placeholderCifar100(join(tmp.dir, 'cifar'));
    const db = join(tmp.dir, 'queue', 'table1.db');
    const r = await normlab(['sweep', '--template', 'paper-table1', '--width', '0.0625', '--epochs', '1', '--db', db, '--data-dir', dataDir, '--queue-only', '--json']);
    expect(r.code).toBe(0);
    const event = JSON.parse(r.stdout.trim()) as { event: string; runs: unknown; sweeps: unknown[] };
    expect(event).toMatchObject({ event: 'template_submitted', runs: { total: 189, created: 189, existing: 0 } });
    expect(event.sweeps).toEqual([expect.objectContaining({ name: 'paper-table1 w0.0625 e1', runs: 189 })]);
    const store = ExperimentStore.open(db);
    try {
      expect(store.countRuns({ status: 'queued' })).toBe(189);
      expect(store.listSweeps().map((s) => s.totalRuns).reduce((a, b) => a + b, 0)).toBe(189);
      expect(new Set(store.listRuns({ limit: 1000 }).map((run) => run.spec.dataDir))).toEqual(new Set([dataDir]));
    } finally {
      store.close();
    }
    expect(readdirSync(join(tmp.dir, 'queue')).filter((f) => f.startsWith('table1.db'))).toContain('table1.db');
  });
});
