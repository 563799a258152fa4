/**
 * Kill cycles: `normlab sweep` on a sweep of tiny runs is stopped CYCLES times at random moments — kill -9 of the
 * sweep alone (its workers are orphaned), kill -9 of its whole process group, SIGINT to the group (Ctrl-C), or
 * SIGTERM to the sweep — sometimes with a second `normlab sweep` started on the same DB at the same time, and
 * restarted each time; then run to the end. Prints what an audit of the store against the runs' journals finds.
 * Target: 0 lost, 0 duplicated, 0 trained twice, and every run finished.
 *
 *   CYCLES=20 SEED=1 npm run bench -- integrity
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { ExperimentStore } from '../src-main/store/experiment-store';
import { auditStore } from '../src-main/store/integrity';

const CYCLES = Number(process.env.CYCLES ?? 20);
const rng = seedrandom(process.env.SEED ?? '1');
const BIN = join(import.meta.dirname, '..', 'bin', 'normlab.mjs');

const KILLS = ['kill -9 sweep', 'kill -9 group', 'SIGINT group', 'SIGTERM sweep'] as const;
type Kill = (typeof KILLS)[number];

function startSweep(args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  // its own process group, as a terminal gives it, so a signal can go to the sweep and its workers together
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

function stop(child: ChildProcess, how: Kill): void {
  try {
    if (how === 'kill -9 sweep') child.kill('SIGKILL');
    else if (how === 'kill -9 group') process.kill(-child.pid!, 'SIGKILL');
    else if (how === 'SIGINT group') process.kill(-child.pid!, 'SIGINT');
    else child.kill('SIGTERM');
  } catch {
    // it had already finished
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-bench-integrity-'));
  const specFile = join(dir, 'spec.json');
  const db = join(dir, 'normlab.db');
  writeFileSync(specFile, JSON.stringify({
    name: 'kill-cycles',
    base: {
      dataset: 'synthetic', syntheticTrainSize: 512, syntheticTestSize: 128, epochs: 4, batchSize: 32, width: 0.25,
      backend: 'wasm', statsEvery: 4, progressEvery: 4,
    },
    grid: { model: ['kn_cnn', 'cnn'], lr: [0.05] },
    seeds: [1, 2, 3, 4],
  }));
  const args = [BIN, 'sweep', specFile, '--db', db, '--workers', '2', '--json'];
  const tally = new Map<string, number>();
  let concurrent = 0;
  const started = Date.now();
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const how = KILLS[Math.floor(rng() * KILLS.length)];
    tally.set(how, (tally.get(how) ?? 0) + 1);
    const first = startSweep(args);
    // now and then a second process opens the same DB while the first one schedules
    const second = rng() < 0.25 ? (concurrent++, startSweep(args)) : null;
    await sleep(1000 + rng() * 4000);
    stop(first.child, how);
    const code = await first.exited;
    if (second) stop(second.child, KILLS[Math.floor(rng() * KILLS.length)]);
    await second?.exited;
    process.stdout.write(`cycle ${String(cycle).padStart(2)}: ${how.padEnd(14)} exit ${code ?? 'signal'}${second ? ' (with a second sweep)' : ''}\n`);
    // restart at once about half the time: the new process must cope with orphans still checkpointing
    if (rng() < 0.5) await sleep(500);
  }
  const final = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
  const store = ExperimentStore.open(db, { readonly: true });
  try {
    const runs = store.listRuns();
    const report = auditStore(store);
    const statuses = new Map<string, number>();
    for (const r of runs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    console.log(`\ncycles: ${CYCLES} (${[...tally].map(([k, n]) => `${n}× ${k}`).join(', ')}; ${concurrent} with a second sweep on the DB)`);
    console.log(`final run: exit ${final.status}; ${(Date.now() - started) / 1000 | 0} s in all`);
    console.log(`runs: ${runs.length} (${[...statuses].map(([s, n]) => `${n} ${s}`).join(', ')}); attempts: ${runs.reduce((a, r) => a + r.attempts, 0)}`);
    console.log(`epochs expected: ${report.epochsExpected}, present: ${report.epochsPresent}, lost: ${report.lostEpochs.length}${report.lostEpochs.length ? ` (${report.lostEpochs.join(', ')})` : ''}`);
    console.log(`duplicate rows: ${report.duplicateRows}`);
    console.log(`runs trained twice (two workers at once): ${report.trainedTwice.length}${report.trainedTwice.length ? ` (${report.trainedTwice.join(', ')})` : ''}`);
    const bad = report.lostEpochs.length + report.duplicateRows + report.trainedTwice.length + (final.status === 0 ? 0 : 1);
    if (bad > 0) {
      console.log(`FAILED: see ${dir}`);
      if (final.status !== 0) console.log(final.stderr.slice(-3000));
      process.exitCode = 1;
    }
  } finally {
    store.close();
  }
}

void main();
