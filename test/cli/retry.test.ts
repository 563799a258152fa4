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
    for (const [run, status] of [[diverged!, 'diverged'], [finished!, 'finished']] as const) {
      expect(store.claimNext('cpu:0')!.id).toBe(run.id);
      store.apply(run.id, { event: 'done', status, metrics: finalMetrics() });
    }
    store.close();

    const ok = normlab('retry', String(diverged!.id), '--db', db);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`run ${diverged!.id} (knresnet18, was diverged) is queued again`);
    expect(ok.stdout).toContain('normlab serve');

    const refused = normlab('retry', String(finished!.id), '--db', db);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`cannot go from finished to queued (only from interrupted or failed or cancelled or diverged)`);
    expect(refused.stderr).toContain('a finished run cannot be retried');

    const missing = normlab('retry', '999', '--db', db);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('run 999 does not exist');
    expect(normlab('retry', 'abc', '--db', db).status).toBe(2);

    const after = ExperimentStore.open(db, { readonly: true });
    expect(after.getRun(diverged!.id)!.status).toBe('queued');
    expect(after.getRun(finished!.id)!.status).toBe('finished');
    after.close();
  });
});
