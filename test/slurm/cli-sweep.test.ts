import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { waitFor } from '../main/scheduler/helpers';
import { requireCluster } from './require-cluster';
import { tinyRunSpec } from './tiny-run';

/**
 * `normlab sweep SPEC --executor slurm` as a user runs it, in its own process, on the one-node cluster of
 * test/slurm/start-cluster.sh: the CLI submits one job per run, is killed with SIGKILL mid-sweep, and the same
 * command run again re-attaches to the jobs and finishes the sweep.
 */
const BIN = join(import.meta.dirname, '../../bin/normlab.mjs');
const dir = mkdtempSync(join(tmpdir(), 'normlab-slurm-cli-'));
afterAll(() => spawnSync('rm', ['-rf', dir]));

function sweepSpec(name: string, extra: Record<string, unknown> = {}): string {
  const { runId: _r, checkpointDir: _c, resume: _s, seed: _seed, ...base } = tinyRunSpec(1, dir, 4);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, base, seeds: [1, 2], ...extra }));
  return file;
}

function normlab(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, lines, stderr: () => err };
}

describe('normlab sweep --executor slurm on a real one-node cluster', () => {
  beforeAll(requireCluster);

  it('refuses a bad executor spec with exit 2, naming the field, before anything is written', () => {
    const db = join(dir, 'refused.db');
    const badSpec = spawnSync(process.execPath, [BIN, 'sweep', sweepSpec('bad', { executor: { kind: 'slurm', time: 'soon' } }), '--db', db], { encoding: 'utf8' });
    expect(badSpec.status).toBe(2);
    expect(badSpec.stderr).toContain('executor.time: a Slurm time limit');
    const localWithGres = spawnSync(process.execPath, [BIN, 'sweep', sweepSpec('local'), '--db', db, '--gres', 'gpu:1'], { encoding: 'utf8' });
    expect(localWithGres.status).toBe(2);
    expect(localWithGres.stderr).toContain('--gres only apply to --executor slurm');
    expect(existsSync(db)).toBe(false);
    expect(readdirSync(dir).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('submits one job per run, survives kill -9 of the CLI, and the same command finishes the sweep without resubmitting', async () => {
    const db = join(dir, 'normlab.db');
    // the spec asks for Slurm, a flag adds to its block
    const args = ['sweep', sweepSpec('cli-slurm', { executor: { kind: 'slurm', time: '10' } }), '--executor', 'slurm', '--gres', 'gpu:1', '--db', db, '--json'];
    const first = normlab(args);
    const submitted = (lines: Record<string, unknown>[]) => lines.filter((l) => l.event === 'submitted');
    await waitFor(
      () => submitted(first.lines()).length === 2 && first.lines().some((l) => l.event === 'epoch'),
      120_000, 'both runs submitted and an epoch in',
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const jobs = submitted(first.lines());
    expect(jobs.map((l) => typeof l.runId === 'number' && /^\d+$/.test(String(l.jobId)))).toEqual([true, true]);
    expect(new Set(jobs.map((l) => l.runId)).size).toBe(2);

    const second = normlab(args);
    expect(await second.exited, second.stderr()).toBe(0);
    expect(submitted(second.lines())).toEqual([]);
    expect(second.lines().at(-1)).toMatchObject({ event: 'sweep_done', allFinished: true });

    const store = ExperimentStore.open(db, { readonly: true });
    try {
      const runs = store.listRuns();
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        expect(run.status, `run ${run.id}: ${run.errorReason}`).toBe('finished');
        expect((store.getMetrics(run.id, 'test_acc').test_acc ?? []).map((p) => p.step)).toEqual([1, 2, 3, 4]);
        expect(run.jobId).toBe(String(jobs.find((l) => l.runId === run.id)?.jobId));
        // one job per run, and re-attaching counted no second attempt
        expect(readdirSync(run.checkpointDir ?? '').filter((f) => /^slurm-\d+\.out$/.test(f))).toHaveLength(1);
        expect(run.attempts).toBe(1);
        expect(run.device).toBe('localhost');
        const doneBeforeKill = first.lines().some((l) => l.event === 'done' && l.runId === run.id);
        if (!doneBeforeKill) expect(store.getLogs(run.id).map((l) => l.message)).toContain('a restarted manager re-attached to its Slurm job');
      }
    } finally {
      store.close();
    }
    const csv = spawnSync(process.execPath, [BIN, 'export', '--db', db, '--what', 'runs'], { encoding: 'utf8' });
    expect(csv.status, csv.stderr).toBe(0);
    const rows = parse<Record<string, string>>(csv.stdout, { columns: true });
    expect(rows.map((r) => r.job_id).sort()).toEqual(jobs.map((l) => String(l.jobId)).sort());
  });
});
