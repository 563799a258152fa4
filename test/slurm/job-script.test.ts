import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobScript, RUN_INPUT_FILE, shellQuote } from '../../src-main/slurm/job-script';
import { PROGRESS_FILE } from '../../src-worker/batch-main';
import { readJournal } from '../../src-worker/train/journal';
import { waitFor } from '../main/scheduler/helpers';
import { tinyRunSpec } from './tiny-run';

/** Runs a job script the way slurmstepd does (bash, in the run folder), without Slurm. */
function runScript(runDir: string, runId: number) {
  const path = join(runDir, 'slurm-job.sh');
  writeFileSync(path, jobScript({ runId, runDir, node: process.execPath }));
  const child = spawn('bash', [path], { cwd: runDir, env: { ...process.env, SLURM_JOB_ID: '4242' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

function runFolder(spec: (dir: string) => unknown): string {
  const runDir = join(mkdtempSync(join(tmpdir(), 'normlab-job-')), 'run-1');
  mkdirSync(runDir);
  writeFileSync(join(runDir, RUN_INPUT_FILE), JSON.stringify({ spec: spec(runDir), journalAck: { journal: null, seq: 0 } }));
  return runDir;
}

describe('job script and batch worker', () => {
  it('quotes words for bash so paths with spaces and quotes stay one word', () => {
    expect(shellQuote("/shared/it's here")).toBe(`'/shared/it'\\''s here'`);
  });

  it('trains one run from its run file, every event in the journal, progress in progress.json', async () => {
    const runDir = runFolder((dir) => tinyRunSpec(1, dir, 2));
    const job = runScript(runDir, 1);
    expect(await job.exited).toBe(0);
    const events = readJournal(runDir);
    expect(events.filter((e) => e.event === 'epoch').map((e) => (e.event === 'epoch' ? e.epoch : 0))).toEqual([1, 2]);
    expect(events.at(-1)).toMatchObject({ event: 'done', status: 'finished', runId: 1 });
    expect(existsSync(join(runDir, PROGRESS_FILE))).toBe(true);
    expect(JSON.parse(readFileSync(join(runDir, PROGRESS_FILE), 'utf8'))).toMatchObject({ event: 'progress', runId: 1 });
    // the job's output file is readable on its own
    expect(job.output()).toMatch(/normlab: run 1 as Slurm job 4242 on /);
    expect(job.output()).toMatch(/epoch 2: train_loss [\d.]+, test_acc [\d.]+/);
    expect(job.output()).toMatch(/done: finished/);
  });

  it('passes the SIGTERM Slurm sends the batch shell to the worker, which checkpoints and ends interrupted', async () => {
    const runDir = runFolder((dir) => tinyRunSpec(1, dir, 50));
    const job = runScript(runDir, 1);
    await waitFor(() => readJournal(runDir).some((e) => e.event === 'epoch'), 90_000, 'the first epoch in the journal');
    job.child.kill('SIGTERM');
    expect(await job.exited).toBe(0);
    const events = readJournal(runDir);
    expect(events.at(-1)).toMatchObject({ event: 'done', status: 'interrupted' });
    expect(events.some((e) => e.event === 'checkpoint' && e.reason === 'cancel')).toBe(true);
    expect(events.filter((e) => e.event === 'epoch').length).toBeLessThan(50);
  });

  it('reports a bad run file in the output and exits 2, with nothing journaled', async () => {
    const runDir = runFolder(() => ({ model: 'cnn' }));
    const job = runScript(runDir, 1);
    expect(await job.exited).toBe(2);
    expect(job.output()).toMatch(/spec\.checkpointDir is required/);
    expect(job.output()).toMatch(/normlab: worker exited with code 2/);
  });
});
