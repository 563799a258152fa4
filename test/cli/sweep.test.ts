import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { tempDir, tinySweep } from '../main/scheduler/helpers';

const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');

function sweepArgs(specFile: string, db: string): string[] {
  return [BIN, 'sweep', specFile, '--db', db, '--workers', '1', '--json'];
}

describe('normlab sweep', () => {
  it('survives SIGKILL mid-run: a restart resumes from the checkpoint and keeps every earlier metric', async () => {
    const dir = tempDir('normlab-sweep-kill-');
    const specFile = join(dir, 'spec.json');
    const db = join(dir, 'normlab.db');
    writeFileSync(specFile, JSON.stringify(tinySweep('killed', { epochs: 3, seeds: [1, 2] })));

    // first attempt: killed (SIGKILL, no chance to clean up) as soon as an epoch has been acknowledged
    const first = spawn(process.execPath, sweepArgs(specFile, db), { stdio: ['ignore', 'pipe', 'pipe'] });
    const seen: { runId: number; epoch: number; test_acc: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      first.stdout.setEncoding('utf8');
      first.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const event = JSON.parse(line) as { event: string; runId: number; epoch: number; metrics?: { test_acc: number } };
          if (event.event === 'epoch') seen.push({ runId: event.runId, epoch: event.epoch, test_acc: event.metrics!.test_acc });
          if (event.event === 'checkpoint') first.kill('SIGKILL');
        }
      });
      first.on('exit', () => resolve());
      first.on('error', reject);
    });
    expect(seen.length).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1500)); // the orphaned worker notices the lost parent and stops

    const second = spawnSync(process.execPath, sweepArgs(specFile, db), { encoding: 'utf8', timeout: 180_000 });
    expect(second.status, second.stderr).toBe(0);
    const events = second.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.event === 'sweep_submitted')).toMatchObject({ recovered: 1 });
    const resumed = events.find((e) => e.event === 'started' && e.runId === seen[0].runId);
    expect(resumed?.resumedFromEpoch).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)).toMatchObject({ event: 'sweep_done', allFinished: true });

    const store = ExperimentStore.open(db, { readonly: true });
    try {
      const runs = store.listRuns();
      expect(runs.map((r) => r.status)).toEqual(['finished', 'finished']);
      for (const s of seen) {
        const point = store.getMetrics(s.runId, 'test_acc').test_acc.find((p) => p.step === s.epoch);
        expect(point?.value).toBeCloseTo(s.test_acc, 10);
      }
      for (const run of runs) expect(store.getMetrics(run.id, 'test_acc').test_acc.map((p) => p.step)).toEqual([1, 2, 3]);
    } finally {
      store.close();
    }
  });

  it('exits by itself once every run is done, leaving no worker started ahead behind', () => {
    const dir = tempDir('normlab-sweep-exit-');
    const specFile = join(dir, 'spec.json');
    // two runs on two slots: the first slot starts a spare for the second run, which the other slot takes
    writeFileSync(specFile, JSON.stringify(tinySweep('exits', { seeds: [1, 2], epochs: 2 })));
    const started = Date.now();
    const result = spawnSync(process.execPath, [BIN, 'sweep', specFile, '--db', join(dir, 'db.sqlite'), '--workers', '2'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.signal, `still running after ${Date.now() - started} ms`).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('2 runs: 2 finished');
  });

  it('refuses a malformed spec with the path of the problem and a non-zero exit', () => {
    const dir = tempDir('normlab-sweep-bad-');
    const specFile = join(dir, 'spec.json');
    writeFileSync(specFile, JSON.stringify({ ...tinySweep('bad'), grid: { model: ['cnn'], lr: [0.1, 0.05, -1] } }));
    const result = spawnSync(process.execPath, [BIN, 'sweep', specFile, '--db', join(dir, 'db.sqlite')], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/grid\.lr\[2\]/);
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace

    const missing = spawnSync(process.execPath, [BIN, 'sweep', join(dir, 'nope.json'), '--db', join(dir, 'db.sqlite')], { encoding: 'utf8' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot read sweep spec .*nope\.json: ENOENT/);
  });
});
