import { describe, expect, it } from 'vitest';
import { lrLadder, lrSearchSchema, proposeLrTrials, type LrTrial } from '../../../src-main/sweeps';

const settings = lrSearchSchema.parse({}); // start 0.2, factor 0.5, maxSteps 6, repeats 3
const seeds = [1, 2, 3];
const done = (lr: number, acc: number, seed = 1): LrTrial => ({ lr, seed, status: 'finished', finalTestAcc: acc, bestTestAcc: acc + 0.01 });

describe('learning-rate searcher', () => {
  it('walks the ladder 0.2, 0.1, 0.05, … one run at a time with the first seed', () => {
    expect(lrLadder(settings)).toEqual([0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]);
    expect(proposeLrTrials(settings, seeds, [])).toMatchObject({ proposals: [{ lr: 0.2, seed: 1 }], phase: 'searching', bestLr: null });
    expect(proposeLrTrials(settings, seeds, [done(0.2, 0.5)])).toMatchObject({ proposals: [{ lr: 0.1, seed: 1 }], bestLr: 0.2 });
    expect(proposeLrTrials(settings, seeds, [done(0.2, 0.5), done(0.1, 0.6)]).proposals).toEqual([{ lr: 0.05, seed: 1 }]);
  });

  it('waits while the current lr is queued or running, proposing nothing', () => {
    const running: LrTrial = { lr: 0.1, seed: 1, status: 'running', finalTestAcc: null, bestTestAcc: null };
    const decision = proposeLrTrials(settings, seeds, [done(0.2, 0.5), running]);
    expect(decision).toMatchObject({ proposals: [], phase: 'searching', bestLr: 0.2 });
    expect(decision.note).toMatch(/waiting for lr 0.1/);
  });

  it('stops at the first lr that does not improve and repeats the best with the remaining seeds', () => {
    const trials = [done(0.2, 0.5), done(0.1, 0.62), done(0.05, 0.62)];
    const decision = proposeLrTrials(settings, seeds, trials);
    expect(decision.phase).toBe('repeating');
    expect(decision.bestLr).toBe(0.1);
    expect(decision.proposals).toEqual([{ lr: 0.1, seed: 2 }, { lr: 0.1, seed: 3 }]);
    expect(decision.note).toMatch(/lr 0.05 did not improve on lr 0.1/);

    const withRepeats = [...trials, done(0.1, 0.6, 2), { ...done(0.1, 0, 3), status: 'running' as const, finalTestAcc: null }];
    expect(proposeLrTrials(settings, seeds, withRepeats)).toMatchObject({ proposals: [], phase: 'repeating', bestLr: 0.1 });
    withRepeats[4] = done(0.1, 0.61, 3);
    expect(proposeLrTrials(settings, seeds, withRepeats)).toMatchObject({ proposals: [], phase: 'done', bestLr: 0.1 });
  });

  it('treats a diverged run as worse than any result, so a diverging start keeps halving', () => {
    const diverged: LrTrial = { lr: 0.2, seed: 1, status: 'diverged', finalTestAcc: 0.01, bestTestAcc: 0.1 };
    expect(proposeLrTrials(settings, seeds, [diverged])).toMatchObject({ proposals: [{ lr: 0.1, seed: 1 }], bestLr: null });
    const allDiverged = lrLadder(settings).map((lr) => ({ ...diverged, lr }));
    expect(proposeLrTrials(settings, seeds, allDiverged)).toMatchObject({ proposals: [], phase: 'done', bestLr: null });
  });

  it('stops after maxSteps when every step improved, and uses the configured metric', () => {
    const short = lrSearchSchema.parse({ start: 0.4, maxSteps: 2, repeats: 2, metric: 'best_test_acc' });
    const trials: LrTrial[] = [
      { lr: 0.4, seed: 1, status: 'finished', finalTestAcc: 0.7, bestTestAcc: 0.5 },
      { lr: 0.2, seed: 1, status: 'finished', finalTestAcc: 0.6, bestTestAcc: 0.55 },
    ];
    // by final accuracy 0.4 would win; by best accuracy 0.2 does
    expect(proposeLrTrials(short, [1, 2], trials)).toMatchObject({ proposals: [{ lr: 0.2, seed: 2 }], phase: 'repeating', bestLr: 0.2 });
  });

  it('is blocked by a failed search run until it is retried', () => {
    const failed: LrTrial = { lr: 0.1, seed: 1, status: 'failed', finalTestAcc: null, bestTestAcc: null };
    const decision = proposeLrTrials(settings, seeds, [done(0.2, 0.5), failed]);
    expect(decision).toMatchObject({ proposals: [], phase: 'blocked' });
    expect(decision.note).toMatch(/lr 0.1 \(seed 1\) failed; retry it/);
  });
});
