import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { schedulerStoreFor } from '../../../src-main/scheduler/store-adapter';
import { ExperimentStore } from '../../../src-main/store';
import type { WorkerEvent } from '../../../src-worker/protocol';
import { epochMetrics, finalMetrics, spec, tempDir } from './helpers';

const tmp = tempDir('store-adapter');
afterAll(() => tmp.cleanup());
let counter = 0;

/** A store with one claimed run, as the scheduler has it right after claimNextRun. */
function claimedRun(options: { flushMs?: number } = {}) {
  const file = join(tmp.dir, `adapter-${++counter}.db`);
  const store = ExperimentStore.open(file, { flushMs: options.flushMs ?? 250 });
  const { sweep } = store.upsertSweep({ name: 's', spec: {} });
  const runId = store.addRuns(sweep.id, [spec()]).runs[0].id;
  const logged: string[] = [];
  const adapter = schedulerStoreFor(store, (m) => logged.push(m));
  expect(adapter.claimNextRun('cpu:0', 'me')?.id).toBe(runId);
  return { file, store, runId, adapter, logged };
}

/** What a worker with a journal sends: every event but progress stamped with its journal position. */
function journaled(journal: string, events: WorkerEvent[]): WorkerEvent[] {
  let seq = 0;
  return events.map((e) => (e.event === 'progress' ? e : { ...e, journal, seq: ++seq }));
}

const epochs = (n: number): WorkerEvent[] =>
  Array.from({ length: n }, (_, i) => ({ event: 'epoch', epoch: i + 1, metrics: epochMetrics({ test_acc: 0.1 * (i + 1) }) }));

function testAccSteps(file: string, runId: number): number[] {
  const reader = ExperimentStore.open(file, { readonly: true });
  try {
    return (reader.getMetrics(runId, 'test_acc').test_acc ?? []).map((p) => p.step);
  } finally {
    reader.close();
  }
}

describe('the scheduler store adapter: batching across events', () => {
  it('lets journaled events wait for the buffer timer, and another connection sees them within it', async () => {
    const { file, store, runId, adapter } = claimedRun({ flushMs: 100 });
    for (const event of journaled('j1', epochs(3))) {
      adapter.ingestEvent(runId, event);
      adapter.flush();
    }
    // three epochs in one pending batch: the scheduler's flush() no longer commits once per event
    expect(store.pendingRows).toBe(3 * (9 + 1));
    expect(testAccSteps(file, runId)).toEqual([]);
    const sent = Date.now();
    await vi.waitFor(() => expect(testAccSteps(file, runId)).toEqual([1, 2, 3]), { timeout: 5000, interval: 10 });
    // the timer (100 ms here, 250 ms by default) is what bounds how stale a live viewer's store can be
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(store.getRun(runId)!.journalAck).toEqual({ journal: 'j1', seq: 3 });
    store.close();
  });

  it('writes at once an event no journal holds, and a done event with everything before it', () => {
    const { file, store, runId, adapter } = claimedRun({ flushMs: 60_000 });
    const [first, second] = journaled('j1', epochs(2));
    adapter.ingestEvent(runId, first);
    adapter.flush();
    adapter.ingestEvent(runId, { event: 'log', level: 'info', message: 'waiting for worker pid 7 to exit' });
    adapter.flush();
    expect(store.pendingRows).toBe(0);
    expect(testAccSteps(file, runId)).toEqual([1]);
    adapter.ingestEvent(runId, { event: 'progress', epoch: 2, batch: 1, batchesPerEpoch: 4, imagesPerSec: 9, etaSec: 1, loss: 1 });
    adapter.ingestEvent(runId, second);
    adapter.flush();
    expect(store.pendingRows).toBe(10);
    adapter.ingestEvent(runId, { event: 'done', status: 'finished', metrics: finalMetrics(), journal: 'j1', seq: 3 });
    adapter.flush();
    expect(store.pendingRows).toBe(0);
    const reader = ExperimentStore.open(file, { readonly: true });
    expect(reader.getRun(runId)).toMatchObject({ status: 'finished', journalAck: { journal: 'j1', seq: 3 } });
    expect(reader.getMetrics(runId, 'test_acc').test_acc.map((p) => p.step)).toEqual([1, 2]);
    expect(reader.getLogs(runId).map((l) => l.message)).toEqual(['waiting for worker pid 7 to exit']);
    reader.close();
    store.close();
  });

  it('loses nothing when the scheduler is killed with events still buffered: the journal replay fills them in once', () => {
    const { file, store, runId } = claimedRun();
    store.close();
    const events = journaled('j1', [
      ...epochs(2),
      { event: 'log', level: 'info', message: 'epoch 2 saved' },
      { event: 'checkpoint', epoch: 2, path: '/ck/e2', reason: 'periodic' },
    ]);
    const unjournaled: WorkerEvent = { event: 'log', level: 'warn', message: 'in no journal' };
    const eventsFile = join(tmp.dir, `events-${counter}.json`);
    writeFileSync(eventsFile, JSON.stringify([events[0], unjournaled, ...events.slice(1)]));
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'ingest-then-die.ts'), file, String(runId), eventsFile], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    // epoch 1 and the unjournaled line were written by the flush the unjournaled event forced; epoch 2 (9 metrics),
    // the log line and the checkpoint, each with its journal mark, were still pending
    expect(child.stdout).toBe('pending 14\n');

    const restarted = ExperimentStore.open(file);
    const run = restarted.getRun(runId)!;
    expect(run.journalAck).toEqual({ journal: 'j1', seq: 1 });
    expect(restarted.getMetrics(runId, 'test_acc').test_acc.map((p) => p.step)).toEqual([1]);
    expect(restarted.getLogs(runId).map((l) => l.message)).toEqual(['in no journal']);
    // the resumed worker replays what the store has not acknowledged; a second, stale replay of all of it adds nothing
    const adapter = schedulerStoreFor(restarted);
    for (const replay of [events.filter((e) => e.seq! > run.journalAck.seq), events]) {
      for (const event of replay) {
        adapter.ingestEvent(runId, event);
        adapter.flush();
      }
      restarted.flush();
    }
    expect(restarted.getMetrics(runId, 'test_acc').test_acc.map((p) => p.step)).toEqual([1, 2]);
    expect(restarted.getLogs(runId).map((l) => l.message)).toEqual(['in no journal', 'epoch 2 saved']);
    expect(restarted.getCheckpoints(runId).map((c) => c.path)).toEqual(['/ck/e2']);
    expect(restarted.getRun(runId)!.journalAck).toEqual({ journal: 'j1', seq: 4 });
    restarted.close();
  });

  it('never moves the journal acknowledgement back when an older batch is written late', () => {
    const { store, runId, adapter } = claimedRun({ flushMs: 60_000 });
    const events = journaled('j1', epochs(3));
    for (const event of events) adapter.ingestEvent(runId, event);
    store.flush();
    // another scheduler's store on the same file writes an older position for the same journal, then a new journal
    const late = ExperimentStore.open(store.file, { flushMs: 60_000 });
    late.apply(runId, { ...events[0], seq: 1 });
    late.flush();
    expect(store.getRun(runId)!.journalAck).toEqual({ journal: 'j1', seq: 3 });
    late.apply(runId, { event: 'log', level: 'info', message: 'new journal', journal: 'j2', seq: 1 });
    late.close();
    expect(store.getRun(runId)!.journalAck).toEqual({ journal: 'j2', seq: 1 });
    store.close();
  });
});

describe('the scheduler store adapter: requeues that fail are visible', () => {
  it('a requeue the state machine refuses returns false and says why in the run log and the process log', () => {
    const { store, runId, adapter, logged } = claimedRun();
    store.finishRun(runId, finalMetrics());
    expect(adapter.requeue(runId)).toBe(false);
    const reason = `run ${runId}: cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`;
    expect(store.getLogs(runId).map((l) => [l.level, l.message])).toEqual([['warn', `not requeued: ${reason}`]]);
    expect(logged).toEqual([`run ${runId} not requeued: ${reason}`]);
    store.close();
  });

  it('recovery at start-up counts only the runs it requeued and logs the one the database refused', () => {
    const { file, store, runId, adapter, logged } = claimedRun();
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const other = store.addRuns(sweep.id, [spec({ seed: 2 })]).runs[0].id;
    store.claimNext('cpu:1', 'dead-scheduler');
    // a database that refuses this one run's requeue (as a full disk or a damaged page would refuse any write)
    const raw = new Database(file);
    raw.exec(`CREATE TRIGGER refuse_requeue BEFORE UPDATE OF status ON runs WHEN NEW.status = 'queued' AND OLD.id = ${runId}
              BEGIN SELECT RAISE(ABORT, 'the disk refused the write'); END`);
    raw.close();
    // both runs were left running by other owners
    expect(adapter.recoverInterrupted('new-scheduler')).toBe(1);
    expect(store.getRun(other)!.status).toBe('queued');
    expect(store.getRun(runId)!.status).toBe('interrupted');
    expect(store.getLogs(runId).map((l) => l.message)).toEqual([`not requeued to resume at start-up: the disk refused the write`]);
    expect(logged).toEqual([`run ${runId} not requeued to resume at start-up: the disk refused the write`]);
    store.close();
  });
});
