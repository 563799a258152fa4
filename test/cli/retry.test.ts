import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store';
import { finalMetrics, spec, tempDir } from '../main/store/helpers';

const BIN = join(import.meta.dirname, '../../bin/normlab.mjs');
const tmp = tempDir('cli-retry');
afterAll(() => tmp.cleanup());
const normlab = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

describe('normlab retry', () => {
  it('requeues a diverged run in the file and refuses a finished one with the reason', () => {
    const db = join(tmp.dir, 'retry.db');
    const store = ExperimentStore.open(db);
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [diverged, finished] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs;
    for (const [run, status] of [[diverged, 'diverged'], [finished, 'finished']] as const) {
      expect(store.claimNext('cpu:0')!.id).toBe(run.id);
      store.apply(run.id, { event: 'done', status, metrics: finalMetrics() });
    }
    store.close();

    const ok = normlab('retry', String(diverged.id), '--db', db);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`run ${diverged.id} (knresnet18, was diverged) is queued again`);
    expect(ok.stdout).toContain('normlab serve');

    const refused = normlab('retry', String(finished.id), '--db', db);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`);
    expect(refused.stderr).toContain('a finished run cannot be retried');

    const missing = normlab('retry', '999', '--db', db);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('run 999 does not exist');
    expect(normlab('retry', 'abc', '--db', db).status).toBe(2);

    const after = ExperimentStore.open(db, { readonly: true });
    expect(after.getRun(diverged.id)!.status).toBe('queued');
    expect(after.getRun(finished.id)!.status).toBe('finished');
    after.close();
  });

  it('with --lr, --epochs or --seed queues a clone in the same sweep and leaves the run as it was', () => {
    const db = join(tmp.dir, 'clone.db');
    const store = ExperimentStore.open(db);
    const { sweep } = store.upsertSweep({ name: 's', spec: {} });
    const [diverged, finished] = store.addRuns(sweep.id, [spec({ seed: 1 }), spec({ seed: 2 })]).runs;
    for (const [run, status] of [[diverged, 'diverged'], [finished, 'finished']] as const) {
      expect(store.claimNext('cpu:0')!.id).toBe(run.id);
      store.apply(run.id, { event: 'done', status, metrics: finalMetrics() });
    }
    const original = store.getRun(diverged.id)!;
    store.close();

    const ok = normlab('retry', String(diverged.id), '--db', db, '--lr', '0.025', '--epochs', '6', '--seed', '4');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const after = ExperimentStore.open(db, { readonly: true });
    const clone = after.listRuns({ sweepId: sweep.id }).find((r) => r.id !== diverged.id && r.id !== finished.id);
    expect(clone).toMatchObject({ status: 'queued', lr: 0.025, epochs: 6, seed: 4 });
    expect(ok.stdout).toContain(`run ${clone!.id} (knresnet18, lr 0.025, epochs 6, seed 4) is queued in ${db} as a clone of run ${diverged.id}, which stays diverged`);
    expect(after.getLogs(clone!.id).map((l) => l.message)).toEqual([`cloned from run ${diverged.id} (diverged) with lr 0.1 → 0.025, epochs 3 → 6, seed 1 → 4`]);
    expect(after.getRun(diverged.id)).toEqual(original);
    after.close();

    const refused = normlab('retry', String(finished.id), '--db', db, '--lr', '0.01');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('cannot go from finished to queued');
    const badValue = normlab('retry', String(diverged.id), '--db', db, '--lr', '-1');
    expect(badValue.status).toBe(2);
    expect(badValue.stderr).toMatch(/changes\.lr: /);
    expect(normlab('retry', String(diverged.id), '--db', db, '--epochs', 'many').status).toBe(2);
    const check = ExperimentStore.open(db, { readonly: true });
    expect(check.countRuns({ sweepId: sweep.id })).toBe(3);
    check.close();
  });
});
