import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { auditStore } from '../../src-main/store/integrity';
import { waitFor } from '../main/scheduler/helpers';
import { crashSweep, jsonLines, runSweep, startSweep, sweepSetup, type SweepSetup } from './harness';

function readStore<T>(db: string, read: (store: ExperimentStore) => T): T {
  const store = ExperimentStore.open(db, { readonly: true });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** For polling while another process creates the DB: a file not yet migrated reads as "not yet". */
function probeStore(db: string, read: (store: ExperimentStore) => boolean): boolean {
  if (!existsSync(db)) return false;
  try {
    return readStore(db, read);
  } catch {
    return false;
  }
}

const withDb = (s: SweepSetup, db: string): SweepSetup => ({ ...s, db });

describe('checkpoints belong to their store', () => {
  it('a second DB in the same folder trains its own runs instead of finishing with the first DB\'s checkpoints', () => {
    const a = sweepSetup('normlab-two-dbs-', crashSweep('two-dbs', { epochs: 1 }));
    expect(runSweep(withDb(a, join(a.dir, 'a.db'))).status).toBe(0);
    // the same sweep (same name, same run ids) with another lr, into b.db next to a.db
    const bSpec = crashSweep('two-dbs', { epochs: 1 });
    bSpec.grid.lr = [0.01];
    const b = { ...sweepSetup('normlab-two-dbs-spec-', bSpec), dir: a.dir, db: join(a.dir, 'b.db') };
    const second = runSweep(b);
    expect(second.status, second.stderr).toBe(0);
    const runA = readStore(join(a.dir, 'a.db'), (s) => s.listRuns()[0]);
    const [runB, metricsB] = readStore(b.db, (s) => [s.listRuns()[0], s.getMetrics(s.listRuns()[0].id)] as const);
    expect(runB.id).toBe(runA.id);
    expect(runB).toMatchObject({ status: 'finished', epochsCompleted: 1 });
    expect(metricsB.test_acc).toHaveLength(1);
    expect(jsonLines(second.stdout).find((e) => e.event === 'started')).toMatchObject({ resumedFromEpoch: 0 });
    expect(runB.checkpointDir).not.toBe(runA.checkpointDir);
    // one folder per store, named by its id, under the shared checkpoint root
    expect(readdirSync(join(a.dir, 'checkpoints')).sort()).toEqual(
      [readStore(join(a.dir, 'a.db'), (s) => s.storeId), readStore(b.db, (s) => s.storeId)].sort(),
    );
  });

  it('a DB deleted and started over trains again', () => {
    const s = sweepSetup('normlab-restart-db-', crashSweep('start-over', { epochs: 1 }));
    expect(runSweep(s).status).toBe(0);
    for (const suffix of ['', '-wal', '-shm']) rmSync(s.db + suffix, { force: true });
    const again = runSweep(s);
    expect(again.status, again.stderr).toBe(0);
    expect(jsonLines(again.stdout).find((e) => e.event === 'started')).toMatchObject({ resumedFromEpoch: 0 });
    expect(readStore(s.db, (st) => st.getMetrics(1).test_acc)).toHaveLength(1);
  });
});

describe('one scheduler per DB', () => {
  it('a second normlab sweep on a DB that a sweep is running waits for it and trains nothing twice', async () => {
    const s = sweepSetup('normlab-second-sweep-', crashSweep('shared', { epochs: 3 }));
    const first = startSweep(s);
    await waitFor(() => probeStore(s.db, (st) => st.listRuns()[0]?.status === 'running'), 60_000, 'the first sweep to start its run');
    const second = startSweep(s);
    const [a, b] = await Promise.all([first.exited, second.exited]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const waiting = jsonLines(b.stdout).find((e) => e.event === 'lease');
    expect(waiting).toMatchObject({ state: 'waiting', holder: { pid: first.child.pid } });
    expect(jsonLines(b.stdout).some((e) => e.event === 'started')).toBe(false);
    readStore(s.db, (st) => {
      const [run] = st.listRuns();
      expect(run).toMatchObject({ status: 'finished', attempts: 1, epochsCompleted: 3 });
      expect(auditStore(st)).toMatchObject({ lostEpochs: [], duplicateRows: 0, trainedTwice: [] });
      expect(st.getLogs(run.id).map((l) => l.message).join('\n')).not.toMatch(/cannot go from|requeued/);
      expect(st.lease()).toBeNull();
    });
  });

  it('normlab serve on a DB that a sweep is running does not requeue its run', async () => {
    const s = sweepSetup('normlab-serve-attach-', crashSweep('serve-attach', { epochs: 3 }));
    const sweep = startSweep(s);
    await waitFor(() => probeStore(s.db, (st) => st.listRuns()[0]?.status === 'running'), 60_000, 'the sweep to start its run');
    // the API is what matters here, not the UI: a one-line page stands in for the renderer build
    writeFileSync(join(s.dir, 'index.html'), '<!doctype html><title>NormLab</title>');
    const serve = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'normlab.mjs'), 'serve', '--db', s.db, '--port', '0', '--workers', '1', '--static-dir', s.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let serveErr = '';
    serve.stderr.setEncoding('utf8').on('data', (c: string) => (serveErr += c));
    try {
      const result = await sweep.exited;
      expect(result.code, result.stderr).toBe(0);
      readStore(s.db, (st) => {
        expect(st.listRuns()[0]).toMatchObject({ status: 'finished', attempts: 1 });
        expect(auditStore(st).trainedTwice).toEqual([]);
      });
      // once the sweep has left, serve's scheduler takes the lease over
      await waitFor(() => {
        if (serve.exitCode !== null) throw new Error(`normlab serve exited (${serve.exitCode}): ${serveErr}`);
        return readStore(s.db, (st) => st.lease()?.pid === serve.pid);
      }, 20_000, 'serve to take the lease over');
    } finally {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('close', r));
    }
    expect(serveErr).not.toMatch(/cannot go from/);
  });
});

describe('Ctrl-C is a pause', () => {
  it('SIGINT to the sweep\'s process group leaves runs interrupted; the same command resumes them and exits 0', async () => {
    const s = sweepSetup('normlab-ctrl-c-', crashSweep('ctrl-c', { epochs: 3, seeds: [1, 2] }));
    const first = startSweep(s, { detached: true });
    await waitFor(() => probeStore(s.db, (st) => (st.getMetrics(1).test_acc?.length ?? 0) >= 1), 90_000, 'an epoch of run 1');
    process.kill(-first.child.pid!, 'SIGINT');
    const stopped = await first.exited;
    expect(stopped.code).toBe(130);
    const statuses = readStore(s.db, (st) => st.listRuns().map((r) => r.status));
    expect(statuses).toContain('interrupted');
    expect(statuses).not.toContain('cancelled');
    expect(statuses).not.toContain('running');

    const again = runSweep(s);
    expect(again.status, again.stderr).toBe(0);
    readStore(s.db, (st) => {
      expect(st.listRuns().map((r) => r.status)).toEqual(['finished', 'finished']);
      expect(auditStore(st)).toMatchObject({ epochsExpected: 6, epochsPresent: 6, duplicateRows: 0, trainedTwice: [] });
    });
    const resumed = jsonLines(again.stdout).find((e) => e.event === 'started' && e.runId === 1);
    expect(resumed?.resumedFromEpoch).toBeGreaterThanOrEqual(1);
  });
});
