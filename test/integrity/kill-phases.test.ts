import { describe, expect, it } from 'vitest';
import { auditStore } from '../../src-main/store/integrity';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { pidAlive } from '../../src-worker/pid-alive';
import { readJournal } from '../../src-worker/train/journal';
import { crashSweep, jsonLines, runSweep, sweepHeldAt, sweepSetup, waitForExit } from './harness';

/**
 * Epochs are facts, not messages: `normlab sweep` is killed with SIGKILL at each phase of an epoch, and the same
 * command, started again at once, must end with every epoch in the store exactly once and no run trained by two
 * workers. "parent": only the sweep dies, its worker is orphaned and must stop by itself; "group": the sweep and
 * its worker die together, as `kill -9 -PGID` (or a machine losing power mid-write) does.
 */
const CASES = [
  ['train', 'parent'],
  ['eval', 'parent'],
  ['report', 'parent'],
  ['checkpoint', 'parent'],
  ['eval', 'group'],
  ['report', 'group'],
  ['checkpoint', 'group'],
] as const;

describe('kill -9 of normlab sweep at each phase of an epoch', () => {
  it.each(CASES)('%s phase, killing the %s: nothing lost, nothing twice', async (phase, whom) => {
    const setup = sweepSetup(`normlab-kill-${phase}-${whom}-`, crashSweep(`kill-${phase}`, { epochs: 2 }));
    const held = await sweepHeldAt(setup, phase, 1, { detached: whom === 'group' });
    if (whom === 'group') process.kill(-held.child.pid!, 'SIGKILL');
    else held.child.kill('SIGKILL');
    await held.exited;

    // the same command again, at once: it takes over the dead process's lease, and its worker waits for the orphan
    const second = runSweep(setup);
    expect(second.status, second.stderr).toBe(0);
    const events = jsonLines(second.stdout);
    expect(events.find((e) => e.event === 'sweep_submitted')).toMatchObject({ recovered: 1 });
    expect(events.at(-1)).toMatchObject({ event: 'sweep_done', allFinished: true });
    // the orphan noticed its lost parent and left (it does not keep training next to the new worker)
    expect(pidAlive(held.workerPid)).toBe(false);

    const store = ExperimentStore.open(setup.db, { readonly: true });
    try {
      const [run] = store.listRuns();
      expect(run).toMatchObject({ status: 'finished', epochsCompleted: 2, attempts: 2 });
      expect(store.getMetrics(run.id, 'test_acc').test_acc.map((p) => p.step)).toEqual([1, 2]);
      const report = auditStore(store);
      expect(report).toMatchObject({ runs: 1, epochsExpected: 2, epochsPresent: 2, lostEpochs: [], duplicateRows: 0, trainedTwice: [] });
      // the store holds all of the journal, and says so
      const journal = readJournal(run.checkpointDir!);
      expect(run.journalAck).toEqual({ journal: journal[0].journal, seq: journal.at(-1)!.seq });
      expect(store.getLogs(run.id).map((l) => l.message).join('\n')).not.toMatch(/cannot go from/);
    } finally {
      store.close();
    }
  });

  it('an orphaned worker stops at its next batch boundary, within seconds, with a checkpoint', async () => {
    const setup = sweepSetup('normlab-orphan-', crashSweep('orphan', { epochs: 3 }));
    const held = await sweepHeldAt(setup, 'train', 1);
    held.child.kill('SIGKILL');
    await held.exited;
    await waitForExit(held.workerPid, 15_000, 'the orphaned worker to exit');
    const store = ExperimentStore.open(setup.db, { readonly: true });
    try {
      const [run] = store.listRuns();
      const journal = readJournal(run.checkpointDir!);
      // what it did after its parent died is in its journal, for the next start to replay
      expect(journal.filter((e) => e.event === 'checkpoint').at(-1)).toMatchObject({ reason: 'cancel', epoch: 0 });
      expect(journal.at(-1)).toMatchObject({ event: 'done', status: 'interrupted', pid: held.workerPid });
    } finally {
      store.close();
    }
  });
});
