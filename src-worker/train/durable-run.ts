import type { DoneStatus, WorkerEvent } from '../protocol';
import type { RunSpec } from '../run-spec';
import { faultPoint } from './fault-points';
import { EventJournal, type JournalAck, type JournaledEvent } from './journal';
import { acquireRunLock } from './run-lock';

/** A run's event stream made durable: its folder's lock, its journal, and the replay of what the store lacks. */
export interface DurableRun {
  /** Journals (fsync) every event but progress, then forwards it stamped with its journal position. */
  emit: (event: WorkerEvent) => void;
  /**
   * The outcome an earlier attempt journaled but nobody acknowledged (it was replayed just now): the run is over,
   * and training it again would report it twice.
   */
  readonly replayedOutcome: Exclude<DoneStatus, 'interrupted'> | null;
  close(): void;
}

/**
 * Takes the run folder (waiting for an orphaned worker of the same run to checkpoint and leave), opens the
 * journal, and with `ack` (what the store holds) forwards the journaled events the store lacks, before anything
 * new happens. An `interrupted` done is not replayed: it only said "resume me", which is what is happening.
 */
export async function openDurableRun(spec: RunSpec, dir: string, forward: (e: WorkerEvent) => void, ack?: JournalAck): Promise<DurableRun> {
  const release = await acquireRunLock(dir, {
    onWait: (holder) => forward({ event: 'log', level: 'info', message: `waiting for worker pid ${holder.pid}, which still holds ${dir}, to checkpoint and exit` }),
  });
  let journal: EventJournal;
  try {
    journal = EventJournal.open(dir, spec);
  } catch (err) {
    release();
    throw err;
  }
  let replayedOutcome: DurableRun['replayedOutcome'] = null;
  if (ack) {
    const missing = journal.unacknowledged(ack);
    const last = missing.at(-1);
    for (const event of missing) {
      // a done that later events follow was retried since; only the journal's last word is an outcome
      if (event.event === 'done' && (event !== last || event.status === 'interrupted')) continue;
      forward(event);
    }
    if (last?.event === 'done' && last.status !== 'interrupted') replayedOutcome = last.status;
  }
  return {
    replayedOutcome,
    emit(event) {
      if (event.event === 'progress') {
        forward(event);
        return;
      }
      const stamped: JournaledEvent = journal.append(event);
      if (event.event === 'epoch') faultPoint('report', event.epoch);
      forward(stamped);
    },
    close() {
      journal.close();
      release();
    },
  };
}
