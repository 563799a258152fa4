import { describe, expect, it } from 'vitest';
import { cosineAnnealing, learningRateAt, multiStep, polynomial } from '../../../src-worker/train/schedules';

const pos = (epoch: number, globalStep = 0) => ({ epoch, globalStep, totalEpochs: 150, stepsPerEpoch: 100 });

describe('cosine annealing (eta_min = lr * decay, T_max = epochs)', () => {
  it('starts at lr, passes the midpoint and ends at lr * decay', () => {
    expect(cosineAnnealing(0.1, 0.01, 0, 150)).toBeCloseTo(0.1, 12);
    // cos(pi/3) = 0.5: 0.001 + 0.099 * 0.75
    expect(cosineAnnealing(0.1, 0.01, 50, 150)).toBeCloseTo(0.07525, 12);
    expect(cosineAnnealing(0.1, 0.01, 75, 150)).toBeCloseTo(0.0505, 12);
    expect(cosineAnnealing(0.1, 0.01, 150, 150)).toBeCloseTo(0.001, 12);
  });
  it('is what learningRateAt gives per epoch, constant within an epoch', () => {
    const s = { kind: 'cosine' as const, decay: 0.01 };
    expect(learningRateAt(s, 0.1, pos(50, 5000))).toBeCloseTo(0.07525, 12);
    expect(learningRateAt(s, 0.1, pos(50, 5099))).toBe(learningRateAt(s, 0.1, pos(50, 5000)));
  });
});

describe('multi-step', () => {
  it('divides by 10 at epochs 30, 60 and 90', () => {
    const s = { kind: 'multistep' as const, milestones: [30, 60, 90], gamma: 0.1 };
    expect(learningRateAt(s, 0.1, pos(0))).toBeCloseTo(0.1, 12);
    expect(learningRateAt(s, 0.1, pos(29))).toBeCloseTo(0.1, 12);
    expect(learningRateAt(s, 0.1, pos(30))).toBeCloseTo(0.01, 12);
    expect(learningRateAt(s, 0.1, pos(59))).toBeCloseTo(0.01, 12);
    expect(learningRateAt(s, 0.1, pos(60))).toBeCloseTo(0.001, 12);
    expect(learningRateAt(s, 0.1, pos(95))).toBeCloseTo(0.0001, 12);
  });
  it('takes other milestones and gammas (the DP recipe halves at 70 and 90)', () => {
    expect(multiStep(2, [70, 90], 0.5, 69)).toBe(2);
    expect(multiStep(2, [70, 90], 0.5, 70)).toBe(1);
    expect(multiStep(2, [70, 90], 0.5, 90)).toBe(0.5);
  });
});

describe('polynomial (per step)', () => {
  it('decays lr * (1 - t/T)^0.9 over all steps of the run', () => {
    expect(polynomial(0.01, 0.9, 0, 1000)).toBe(0.01);
    // 0.5^0.9 = exp(0.9 ln 0.5) = 0.535886731...
    expect(polynomial(0.01, 0.9, 500, 1000)).toBeCloseTo(0.00535886731, 10);
    expect(polynomial(0.01, 0.9, 1000, 1000)).toBe(0);
    expect(polynomial(0.01, 0.9, 1200, 1000)).toBe(0);
  });
  it('changes within an epoch through learningRateAt', () => {
    const s = { kind: 'poly' as const, power: 0.9 };
    const at = (step: number) => learningRateAt(s, 0.01, { epoch: 0, globalStep: step, totalEpochs: 10, stepsPerEpoch: 100 });
    expect(at(500)).toBeCloseTo(0.00535886731, 10);
    expect(at(1)).toBeLessThan(at(0));
  });
});

describe('constant', () => {
  it('never changes', () => {
    expect(learningRateAt({ kind: 'constant' }, 0.3, pos(149, 14_999))).toBe(0.3);
  });
});
