import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerEvent } from '../protocol';
import { describeConfigChange, runConfig, runConfigHash, sameRunConfig } from '../run-config';
import type { RunSpec } from '../run-spec';
import { CheckpointError } from './checkpoint';

/**
 * A run's event journal, `events.jsonl` next to its checkpoints: every event except progress is appended and
 * fsynced before it is sent to anyone, so what a worker reported survives the parent dying at any moment. Whoever
 * resumes the run replays what the store has not acknowledged (JournalAck), and the store skips what it already
 * has, so ingest is idempotent.
 *
 * Line 1 is a header {format, version, journal, configHash}; each later line is one event with its `seq`
 * (1, 2, …, never reused within a journal), the writer's pid and the time. A line cut short by a crash mid-write is dropped when the journal is
 * reopened. `journal` (a random id) tells a store whether its acknowledged seq refers to this file or to one
 * that was deleted and recreated.
 */
export const JOURNAL_FILE = 'events.jsonl';
const FORMAT = 'normlab-journal';
const VERSION = 1;

/** What the store holds of a run's journal: everything up to and including `seq` of journal `journal`. */
export interface JournalAck {
  journal: string | null;
  seq: number;
}

export interface JournalStamp {
  journal: string;
  seq: number;
}

export type JournaledEvent = WorkerEvent & JournalStamp & {
  /** The worker process that wrote the line, and when (ms since the epoch): who trained what, for audits. */
  pid?: number;
  at?: number;
};

interface JournalHeader {
  format: string;
  version: number;
  journal: string;
  /** runConfigHash of the run that owns the journal, and that config itself, to say what differs. */
  configHash: string;
  config: Record<string, unknown>;
  createdAt: string;
}

interface ParsedJournal {
  header: JournalHeader;
  events: JournaledEvent[];
  /** Byte length of the intact prefix (header and complete event lines). */
  intactBytes: number;
}

function parseJournal(text: string, path: string): ParsedJournal {
  let offset = 0;
  let header: JournalHeader | undefined;
  const events: JournaledEvent[] = [];
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end < 0) break; // the last write was cut short: not a fact yet
    const line = text.slice(offset, end);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      break; // a torn write followed by a later append cannot happen (we truncate on open); stop at damage
    }
    if (!header) {
      const h = value as Partial<JournalHeader>;
      if (h?.format !== FORMAT || h.version !== VERSION || typeof h.journal !== 'string') {
        throw new CheckpointError(`${path} is not a NormLab event journal (version ${VERSION})`);
      }
      header = h as JournalHeader;
    } else {
      events.push(revive(value as JournaledEvent));
    }
    offset = end + 1;
  }
  if (!header) throw new CheckpointError(`${path} has no readable header`);
  // text offsets are UTF-16 units; the file is truncated in bytes
  return { header, events, intactBytes: Buffer.byteLength(text.slice(0, offset), 'utf8') };
}

/** JSON has no NaN: a DP run's unmeasured train_acc is written as null and must come back as NaN. */
function revive(event: JournaledEvent): JournaledEvent {
  if (event.event !== 'epoch') return event;
  const metrics = { ...event.metrics } as unknown as Record<string, number | null>;
  for (const key of Object.keys(metrics)) if (metrics[key] === null) metrics[key] = NaN;
  return { ...event, metrics: metrics as unknown as typeof event.metrics };
}

export class EventJournal {
  private constructor(
    readonly path: string,
    readonly id: string,
    private fd: number,
    private seq: number,
  ) {}

  /**
   * Opens (or creates) the journal in `dir` for the run `spec`; a journal written by another run (another config
   * hash) is refused, since replaying it would cross-wire two runs' histories.
   */
  static open(dir: string, spec: RunSpec): EventJournal {
    const configHash = runConfigHash(spec);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, JOURNAL_FILE);
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.length > 0) {
        let parsed: ParsedJournal;
        try {
          parsed = parseJournal(text, path);
        } catch {
          // an unreadable header: keep the file for inspection and start a new journal (its new id makes the
          // store replay everything, which is safe because ingest is idempotent)
          renameSync(path, `${path}.unreadable-${Date.now()}`);
          return EventJournal.create(path, spec);
        }
        // a journal written before a run field with a default existed has another hash but the same config
        if (parsed.header.configHash !== configHash && !sameRunConfig(parsed.header.config ?? {}, spec)) {
          const detail = describeConfigChange(parsed.header.config ?? {}, spec, 'journal') ?? 'another config hash';
          throw new CheckpointError(
            `cannot resume from ${dir}: it belongs to a different run (${detail}); ` +
            'point the run at an empty checkpoint folder, or delete this one to start over',
          );
        }
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, parsed.intactBytes);
        closeSync(fd);
        const appendFd = openSync(path, 'a');
        return new EventJournal(path, parsed.header.journal, appendFd, parsed.events.at(-1)?.seq ?? 0);
      }
    }
    return EventJournal.create(path, spec);
  }

  private static create(path: string, spec: RunSpec): EventJournal {
    const header: JournalHeader = {
      format: FORMAT, version: VERSION, journal: randomUUID(), configHash: runConfigHash(spec), config: runConfig(spec),
      createdAt: new Date().toISOString(),
    };
    const fd = openSync(path, 'w');
    writeAll(fd, JSON.stringify(header) + '\n');
    fsyncSync(fd);
    fsyncDir(path);
    return new EventJournal(path, header.journal, fd, 0);
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Appends and fsyncs one event; returns it stamped with its journal position. */
  append(event: WorkerEvent): JournaledEvent {
    const stamped = { ...event, journal: this.id, seq: this.seq + 1, pid: process.pid, at: Date.now() } as JournaledEvent;
    writeAll(this.fd, JSON.stringify(stamped) + '\n');
    fsyncSync(this.fd);
    this.seq += 1;
    return stamped;
  }

  /** The events a store with `ack` lacks: all of them when the ack refers to another (or no) journal. */
  unacknowledged(ack: JournalAck): JournaledEvent[] {
    const { events } = parseJournal(readFileSync(this.path, 'utf8'), this.path);
    return ack.journal === this.id ? events.filter((e) => e.seq > ack.seq) : events;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written);
}

function fsyncDir(file: string): void {
  try {
    const fd = openSync(join(file, '..'), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems refuse fsync on a directory; the file's own fsync still holds
  }
}

/** Reads a journal without opening it for writing (tests, tools). */
export function readJournal(dir: string): JournaledEvent[] {
  const path = join(dir, JOURNAL_FILE);
  if (!existsSync(path)) return [];
  return parseJournal(readFileSync(path, 'utf8'), path).events;
}
