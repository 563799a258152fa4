import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { JOURNAL_FILE, type JournalAck, type JournaledEvent } from '../../src-worker/train/journal';

/**
 * Follows one run's `events.jsonl` on shared storage from a byte offset: each `read()` returns the complete lines
 * appended since the last one. A last line without its newline is a write still in progress (or cut short by a
 * crash, which the next writer truncates): it is left for a later read, never half-parsed.
 *
 * Nothing about the position is kept outside the manager's memory. A restarted manager starts at byte 0 and skips
 * what the store acknowledged (`ack`), so it loses nothing and ingests nothing twice (the store skips replays
 * too). A journal replaced by a new one (another header id, or shorter than our offset) is read from its start.
 */
export class JournalTailer {
  private offset = 0;
  private journalId: string | null = null;
  /** The newest seq handed out (or acknowledged) of `journalId`: what a re-read from byte 0 must not repeat. */
  private seen: JournalAck;

  constructor(
    readonly dir: string,
    ack: JournalAck = { journal: null, seq: 0 },
  ) {
    this.seen = { ...ack };
  }

  get path(): string {
    return join(this.dir, JOURNAL_FILE);
  }

  /** Bytes of complete lines consumed so far. */
  get position(): number {
    return this.offset;
  }

  /** The new complete events, in journal order; [] while the file does not exist yet. */
  read(): JournaledEvent[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let data: Buffer;
    try {
      const size = fstatSync(fd).size;
      // shorter than what we consumed: a new journal replaced the old one; its header says whose it is
      if (size < this.offset) {
        this.offset = 0;
        this.journalId = null;
      }
      // an incomplete last line is read again from its start next time, as the writer may still be writing it
      data = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < data.length) {
        const n = readSync(fd, data, got, data.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      data = data.subarray(0, got);
    } finally {
      closeSync(fd);
    }
    const events: JournaledEvent[] = [];
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
      const value = parseLine(data.subarray(start, nl).toString('utf8'));
      start = nl + 1;
      if (value === null) continue;
      if (isHeader(value)) {
        this.journalId = value.journal;
        continue;
      }
      if (this.journalId === null) throw new Error(`${this.path}: the first line is not a NormLab journal header`);
      const event = value as JournaledEvent;
      if (this.seen.journal === event.journal && event.seq <= this.seen.seq) continue;
      this.seen = { journal: event.journal, seq: event.seq };
      events.push(event);
    }
    this.offset += start;
    return events;
  }
}

interface Header {
  format: string;
  journal: string;
}

function isHeader(value: unknown): value is Header {
  return typeof value === 'object' && value !== null && (value as Header).format === 'normlab-journal' && typeof (value as Header).journal === 'string';
}

/** A damaged line (a torn write the next writer truncates) is skipped rather than stopping the tail for good. */
function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return null;
  }
}
