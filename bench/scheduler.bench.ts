/**
 * Idle gap on a slot between one run ending and the next starting, with real worker processes.
 * Reports two gaps per hand-over: the slot's idle time (old worker exited → new worker spawned) and the
 * user-visible gap (old run's `done` → new run's `started`, which includes process start-up and backend init).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRuntime } from '../src-main/runtime';
import { runSweepToEnd } from '../src-main/cli/sweep-runner';

const RUNS = Number(process.env.RUNS ?? 6);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-bench-sched-'));
  const runtime = await openRuntime({
    dbFile: join(dir, 'normlab.db'),
    startScheduler: false,
    devices: { cpuSlots: 1, nvidiaSmi: '/nonexistent' },
    log: () => {},
  });
  const exitedAt = new Map<number, number>();
  const spawnedAt = new Map<number, number>();
  const doneAt = new Map<number, number>();
  const startedAt = new Map<number, number>();
  runtime.scheduler.on('runStarted', (id) => spawnedAt.set(id, performance.now()));
  runtime.scheduler.on('runEnded', (id) => exitedAt.set(id, performance.now()));
  const outcome = await runSweepToEnd(
    runtime,
    {
      name: 'idle-gap',
      base: { dataset: 'synthetic', syntheticTrainSize: 128, syntheticTestSize: 64, epochs: 1, batchSize: 32, width: 0.25, backend: 'wasm', model: 'cnn', lr: 0.05 },
      seeds: Array.from({ length: RUNS }, (_, i) => i + 1),
    },
    {
      submitted: () => {},
      runEnded: () => {},
      event: (id, e) => {
        if (e.event === 'started') startedAt.set(id, performance.now());
        if (e.event === 'done') doneAt.set(id, performance.now());
      },
    },
  );
  await runtime.close();
  const ids = outcome.runs.map((r) => r.id).sort((a, b) => a - b);
  const slotIdle: number[] = [];
  const visible: number[] = [];
  for (let i = 1; i < ids.length; i++) {
    slotIdle.push(spawnedAt.get(ids[i])! - exitedAt.get(ids[i - 1])!);
    visible.push(startedAt.get(ids[i])! - doneAt.get(ids[i - 1])!);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`scheduler idle gap over ${ids.length - 1} hand-overs on one CPU slot (${outcome.runs.filter((r) => r.status === 'finished').length}/${ids.length} runs finished)`);
  console.log(`  slot idle (worker exit -> next worker spawned): median ${median(slotIdle).toFixed(1)} ms, max ${Math.max(...slotIdle).toFixed(1)} ms   target < 1000 ms`);
  console.log(`  done -> next run's 'started' event (incl. process start, tsx, tfjs init): median ${median(visible).toFixed(0)} ms, max ${Math.max(...visible).toFixed(0)} ms`);
}

await main();
