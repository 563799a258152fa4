import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRunSpec } from '../../../src-worker/run-spec';
import { EventJournal } from '../../../src-worker/train/journal';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec = parseRunSpec({ model: 'cnn', dataset: 'synthetic', epochs: 2, batchSize: 8, lr: 0.1, seed: 1 });

/** A journal as an older version wrote it: the header's config lacks fields added since, and its hash differs. */
function olderJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-journal-'));
  dirs.push(dir);
  EventJournal.open(dir, spec).close();
  const path = join(dir, 'events.jsonl');
  const [headerLine = '', ...rest] = readFileSync(path, 'utf8').split('\n');
  const header = JSON.parse(headerLine) as { configHash: string; config: Record<string, unknown> };
  for (const added of ['optimizer', 'labelSmoothing', 'mixupAlpha', 'cutmixAlpha', 'modelEma', 'accumulate']) delete header.config[added];
  header.configHash = 'an-older-hash';
  writeFileSync(path, [JSON.stringify(header), ...rest].join('\n'));
  return dir;
}

describe('a journal written before run fields with defaults were added', () => {
  it('still opens for the same run (same config once defaults are filled in)', () => {
    const dir = olderJournal();
    expect(() => EventJournal.open(dir, spec).close()).not.toThrow();
  });

  it('is still refused for another run, naming what differs', () => {
    const dir = olderJournal();
    expect(() => EventJournal.open(dir, { ...spec, lr: 0.05 })).toThrow(/belongs to a different run \(.*lr/);
  });
});
