import type { RunStatus } from '../../src-worker/protocol';
import type { LrSearchSettings } from './spec';

/**
 * The paper's learning-rate search as a searcher: start at `start`, multiply by `factor` while the result
 * improves (at most `maxSteps` values), then run the best lr with every repeat seed. It only proposes runs from
 * the results it is shown; deciding where and when they run is the scheduler's job (Ray Tune keeps searcher
 * and scheduler apart the same way). Pure: no store, no clock.
 */

/** One run of a search family (runs that differ only in lr and seed). */
export interface LrTrial {
  lr: number;
  seed: number;
  status: RunStatus;
  finalTestAcc: number | null;
  bestTestAcc: number | null;
}

export interface LrProposal {
  lr: number;
  seed: number;
}

export interface LrSearchDecision {
  /** Runs to add now (none while waiting for a result). */
  proposals: LrProposal[];
  /** searching: walking down the lr ladder; repeating: running the best lr with the other seeds; blocked: a
   *  run the search needs failed or was cancelled and must be retried; done: nothing more to propose. */
  phase: 'searching' | 'repeating' | 'blocked' | 'done';
  /** Best lr found so far (null before any result, or when every lr tried diverged). */
  bestLr: number | null;
  /** One sentence for the UI: why the search is where it is. */
  note: string;
}

const PENDING: ReadonlySet<RunStatus> = new Set(['queued', 'running', 'interrupted']);

/** The lr values the search may try, in order. */
export function lrLadder(settings: Pick<LrSearchSettings, 'start' | 'factor' | 'maxSteps'>): number[] {
  return Array.from({ length: settings.maxSteps }, (_, k) => settings.start * settings.factor ** k);
}

function sameLr(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Decides the next runs of one search family. `seeds` are the repeat seeds; the first one is also the seed
 * every lr on the ladder is tried with, so the search run counts as the first repeat.
 */
export function proposeLrTrials(settings: LrSearchSettings, seeds: readonly number[], trials: readonly LrTrial[]): LrSearchDecision {
  if (seeds.length === 0) throw new Error('proposeLrTrials: at least one seed is needed');
  const searchSeed = seeds[0];
  const find = (lr: number, seed: number) => trials.find((t) => t.seed === seed && sameLr(t.lr, lr));
  const score = (t: LrTrial): number => {
    if (t.status === 'diverged') return -Infinity;
    const value = settings.metric === 'best_test_acc' ? t.bestTestAcc : t.finalTestAcc;
    return value ?? -Infinity;
  };

  let best: { lr: number; score: number } | null = null;
  let stopNote = `tried all ${settings.maxSteps} learning rates`;
  for (const lr of lrLadder(settings)) {
    const trial = find(lr, searchSeed);
    const bestLr = best && best.score > -Infinity ? best.lr : null;
    if (!trial) {
      return { proposals: [{ lr, seed: searchSeed }], phase: 'searching', bestLr, note: `trying lr ${lr} with seed ${searchSeed}` };
    }
    if (PENDING.has(trial.status)) {
      return { proposals: [], phase: 'searching', bestLr, note: `waiting for lr ${lr} (seed ${searchSeed}, ${trial.status})` };
    }
    if (trial.status === 'failed' || trial.status === 'cancelled') {
      return {
        proposals: [],
        phase: 'blocked',
        bestLr,
        note: `lr ${lr} (seed ${searchSeed}) ${trial.status}; retry it to continue the search`,
      };
    }
    const s = score(trial);
    if (best === null || s > best.score) {
      best = { lr, score: s };
      continue;
    }
    stopNote = `lr ${lr} did not improve on lr ${best.lr}`;
    break;
  }

  if (best === null || best.score === -Infinity) {
    return { proposals: [], phase: 'done', bestLr: null, note: 'every learning rate tried diverged' };
  }
  const missing = seeds.filter((seed) => !find(best.lr, seed));
  if (missing.length > 0) {
    return {
      proposals: missing.map((seed) => ({ lr: best.lr, seed })),
      phase: 'repeating',
      bestLr: best.lr,
      note: `${stopNote}; repeating lr ${best.lr} with seeds ${missing.join(', ')}`,
    };
  }
  const waiting = seeds.filter((seed) => PENDING.has(find(best.lr, seed)!.status));
  if (waiting.length > 0) {
    return { proposals: [], phase: 'repeating', bestLr: best.lr, note: `waiting for lr ${best.lr} with seeds ${waiting.join(', ')}` };
  }
  return { proposals: [], phase: 'done', bestLr: best.lr, note: `${stopNote}; best lr ${best.lr}, all ${seeds.length} repeats ran` };
}
