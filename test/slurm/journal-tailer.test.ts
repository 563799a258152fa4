import { appendFileSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalTailer } from '../../src-main/slurm/journal-tailer';
import { JOURNAL_FILE } from '../../src-worker/train/journal';

const header = (journal: string) => JSON.stringify({ format: 'normlab-journal', version: 1, journal, configHash: 'h', config: {}, createdAt: '' }) + '\n';
const line = (journal: string, seq: number, epoch = seq) =>
  JSON.stringify({ event: 'log', level: 'info', message: `epoch ${epoch}`, journal, seq, pid: 1, at: 0 }) + '\n';

function journalDir(): string {
  return mkdtempSync(join(tmpdir(), 'normlab-tail-'));
}

describe('JournalTailer', () => {
  it('returns nothing until the journal exists, then each complete line once', () => {
    const dir = journalDir();
    const tailer = new JournalTailer(dir);
    expect(tailer.read()).toEqual([]);
    writeFileSync(join(dir, JOURNAL_FILE), header('j1') + line('j1', 1) + line('j1', 2));
    expect(tailer.read().map((e) => e.seq)).toEqual([1, 2]);
    expect(tailer.read()).toEqual([]);
    appendFileSync(join(dir, JOURNAL_FILE), line('j1', 3));
    expect(tailer.read().map((e) => e.seq)).toEqual([3]);
  });

  it('leaves a partial last line for the next read', () => {
    const dir = journalDir();
    const path = join(dir, JOURNAL_FILE);
    const third = line('j1', 3);
    writeFileSync(path, header('j1') + line('j1', 1) + third.slice(0, 20));
    const tailer = new JournalTailer(dir);
    expect(tailer.read().map((e) => e.seq)).toEqual([1]);
    const before = tailer.position;
    appendFileSync(path, third.slice(20));
    expect(tailer.read().map((e) => e.seq)).toEqual([3]);
    expect(tailer.position).toBe(before + Buffer.byteLength(third));
  });

  it('reads the line a writer rewrote after truncating its torn write', () => {
    const dir = journalDir();
    const path = join(dir, JOURNAL_FILE);
    const intact = header('j1') + line('j1', 1);
    writeFileSync(path, intact + '{"event":"log","lev');
    const tailer = new JournalTailer(dir);
    expect(tailer.read().map((e) => e.seq)).toEqual([1]);
    // the next worker truncates the torn line on open and appends seq 2 where it was
    truncateSync(path, Buffer.byteLength(intact));
    appendFileSync(path, line('j1', 2));
    expect(tailer.read().map((e) => e.seq)).toEqual([2]);
  });

  it('after a manager restart, starts from the store acknowledgement and skips what it holds', () => {
    const dir = journalDir();
    writeFileSync(join(dir, JOURNAL_FILE), header('j1') + line('j1', 1) + line('j1', 2) + line('j1', 3));
    expect(new JournalTailer(dir, { journal: 'j1', seq: 2 }).read().map((e) => e.seq)).toEqual([3]);
    // an acknowledgement of another journal says nothing about this one
    expect(new JournalTailer(dir, { journal: 'old', seq: 2 }).read().map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('reads a journal that replaced the old one from its start, without repeating the old one', () => {
    const dir = journalDir();
    const path = join(dir, JOURNAL_FILE);
    writeFileSync(path, header('j1') + line('j1', 1) + line('j1', 2) + line('j1', 3));
    const tailer = new JournalTailer(dir);
    expect(tailer.read()).toHaveLength(3);
    writeFileSync(path, header('j2') + line('j2', 1));
    expect(tailer.read().map((e) => `${e.journal}:${e.seq}`)).toEqual(['j2:1']);
  });

  it('refuses a file that is not a NormLab journal', () => {
    const dir = journalDir();
    writeFileSync(join(dir, JOURNAL_FILE), '{"hello":1}\n');
    expect(() => new JournalTailer(dir).read()).toThrow(/not a NormLab journal header/);
  });
});
