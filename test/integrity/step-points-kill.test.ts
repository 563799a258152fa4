import { describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import type { MetricPoint } from '../../src-main/store/types';
import { readJournal } from '../../src-worker/train/journal';
import { crashSweep, jsonLines, runSweep, sweepHeldAt, sweepSetup, waitForExit } from './harness';

/**
 * Step-level curves through real worker processes and a real store: 256 synthetic images in batches of 32 are 8
 * optimizer steps per epoch, logged every 3 global steps and at the run's last (3, 6, 9, 12, 15, 16 over 2 epochs).
 */
function stepSweep(name: string, epochs: number) {
  const sweep = crashSweep(name, { epochs });
  return { ...sweep, base: { ...sweep.base, logEverySteps: 3 } };
}

interface StepCurves {
  loss: MetricPoint[];
  lr: MetricPoint[];
  /** How often each step occurs across the journal's steps events. */
  journalCounts: Map<number, number>;
  /** Where the journal's cancel checkpoints stood (epochs completed): a mid-epoch stop leaves one. */
  cancelEpochs: number[];
}

function readStepCurves(db: string): StepCurves {
  const store = ExperimentStore.open(db, { readonly: true });
  try {
    const [run] = store.listRuns();
    if (!run) throw new Error(`${db} has no run`);
    expect(run.status).toBe('finished');
    const journalCounts = new Map<number, number>();
    const cancelEpochs: number[] = [];
    for (const e of readJournal(run.checkpointDir ?? '')) {
      if (e.event === 'checkpoint' && e.reason === 'cancel') cancelEpochs.push(e.epoch);
      if (e.event !== 'steps') continue;
      for (const p of e.points) journalCounts.set(p.step, (journalCounts.get(p.step) ?? 0) + 1);
    }
    return {
      loss: store.getMetrics(run.id, 'step/train_loss')['step/train_loss'] ?? [],
      lr: store.getMetrics(run.id, 'step/lr')['step/lr'] ?? [],
      journalCounts,
      cancelEpochs,
    };
  } finally {
    store.close();
  }
}

const values = (points: MetricPoint[]) => points.map((p) => [p.step, p.value]);

async function killedAndRerun(name: string, phase: 'train', epoch: number, whom: 'parent' | 'group'): Promise<StepCurves> {
  const setup = sweepSetup(`normlab-steps-${name}-`, stepSweep(name, 2));
  const held = await sweepHeldAt(setup, phase, epoch, { detached: whom === 'group' });
  const pid = held.child.pid;
  if (pid === undefined) throw new Error('the sweep has no pid');
  if (whom === 'group') process.kill(-pid, 'SIGKILL');
  else held.child.kill('SIGKILL');
  await held.exited;
  // the orphan (parent case) stops at its next batch with a cancel checkpoint mid-epoch
  if (whom === 'parent') await waitForExit(held.workerPid, 30_000, 'the orphaned worker to exit');
  const second = runSweep(setup);
  expect(second.status, second.stderr).toBe(0);
  expect(jsonLines(second.stdout).at(-1)).toMatchObject({ event: 'sweep_done', allFinished: true });
  return readStepCurves(setup.db);
}

let reference: StepCurves | undefined;
/** One uninterrupted 2-epoch run, trained once for all the tests that compare with it. */
function referenceCurves(): StepCurves {
  if (reference) return reference;
  const setup = sweepSetup('normlab-steps-ref-', stepSweep('steps-ref', 2));
  const r = runSweep(setup);
  expect(r.status, r.stderr).toBe(0);
  reference = readStepCurves(setup.db);
  return reference;
}

describe('step-level curves from real worker processes', () => {
  it('a 1-epoch run stores step/train_loss and step/lr every 3 steps and at its last', () => {
    const setup = sweepSetup('normlab-steps-one-', stepSweep('steps-one', 1));
    const r = runSweep(setup);
    expect(r.status, r.stderr).toBe(0);
    const curves = readStepCurves(setup.db);
    expect(curves.loss.map((p) => p.step)).toEqual([3, 6, 8]);
    expect(curves.lr.map((p) => p.step)).toEqual([3, 6, 8]);
    for (const p of curves.loss) expect(p.value).toBeGreaterThan(0);
    // one epoch of the default cosine: every step at the base rate
    expect(new Set(curves.lr.map((p) => p.value))).toEqual(new Set([0.05]));
  });

  it('counts steps across epochs (global step numbers)', () => {
    const reference = referenceCurves();
    expect(reference.loss.map((p) => p.step)).toEqual([3, 6, 9, 12, 15, 16]);
    expect([...reference.journalCounts.values()].every((n) => n === 1)).toBe(true);
  });

  it.each([
    ['parent', 1, 'the orphan stops mid-epoch 1 with a cancel checkpoint holding the open window'],
    ['group', 2, 'worker and sweep die in epoch 2: the resume starts from epoch 1\'s checkpoint'],
  ] as const)('SIGKILL of the %s in epoch %i (%s): each step point once, with the uninterrupted values', async (whom, epoch, _why) => {
    const reference = referenceCurves();
    const curves = await killedAndRerun(`kill-${whom}`, 'train', epoch, whom);
    expect(values(curves.loss)).toEqual(values(reference.loss));
    expect(values(curves.lr)).toEqual(values(reference.lr));
    expect([...curves.journalCounts.entries()].sort(([a], [b]) => a - b)).toEqual([3, 6, 9, 12, 15, 16].map((s) => [s, 1]));
    // the parent case resumed mid-epoch 1 (before step 3: point 3's window spans both sessions); the group case
    // from the end of epoch 1, training epoch 2 again
    expect(curves.cancelEpochs).toEqual(whom === 'parent' ? [0] : []);
  });
});
