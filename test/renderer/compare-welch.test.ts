import { describe, expect, it } from 'vitest';
import { meanSd } from '../../src-renderer/lib/format';
import {
  formatP, logGamma, regularizedIncompleteBeta, significantWinner, studentTCdf, studentTTwoSidedP, welchTest,
} from '../../src-renderer/lib/welch';

// Reference values from SciPy 1.x (scipy.special.betainc, scipy.stats.t, scipy.stats.ttest_ind(equal_var=False)).
describe('special functions', () => {
  it('ln Γ matches known values, small arguments included', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(0.1)).toBeCloseTo(2.2527126517342055, 11);
    expect(logGamma(10.5)).toBeCloseTo(13.940625219403763, 11);
    expect(() => logGamma(0)).toThrow(/x must be > 0, got 0/);
  });

  it('the regularized incomplete beta function on both sides of its mean', () => {
    expect(regularizedIncompleteBeta(0.4, 2, 3)).toBeCloseTo(0.5248, 12);
    expect(regularizedIncompleteBeta(0.3, 0.5, 0.5)).toBeCloseTo(0.36901011956554536, 11);
    expect(regularizedIncompleteBeta(0.9, 5, 0.5)).toBeCloseTo(0.3166429150200122, 11);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.2, 2, 3)).toThrow(/x must be in \[0, 1\], got 1.2/);
  });
});

describe("Student's t distribution", () => {
  it('two-sided p-values', () => {
    expect(studentTTwoSidedP(2, 10)).toBeCloseTo(0.07338803477074037, 10);
    expect(studentTTwoSidedP(-2, 10)).toBeCloseTo(0.07338803477074037, 10);
    expect(studentTTwoSidedP(2.228, 10)).toBeCloseTo(0.05001177181711132, 10);
    expect(studentTTwoSidedP(3, 5)).toBeCloseTo(0.030099247897462586, 10);
    expect(studentTTwoSidedP(0.5, 2.5)).toBeCloseTo(0.6576979198697148, 10);
    expect(studentTTwoSidedP(10, 3)).toBeCloseTo(0.0021283990584141503, 10);
    // df = 1 is the Cauchy distribution: P(|T| ≥ 1) = 1/2
    expect(studentTTwoSidedP(1, 1)).toBeCloseTo(0.5, 12);
    expect(studentTTwoSidedP(0, 7)).toBeCloseTo(1, 12);
    expect(studentTTwoSidedP(Infinity, 7)).toBe(0);
    expect(() => studentTTwoSidedP(1, 0)).toThrow(/degrees of freedom must be > 0/);
  });

  it('the CDF on both sides of zero', () => {
    expect(studentTCdf(-1.5, 4)).toBeCloseTo(0.104, 10);
    expect(studentTCdf(0.7, 12.3)).toBeCloseTo(0.7515229364708477, 10);
    expect(studentTCdf(0, 3)).toBeCloseTo(0.5, 12);
  });
});

describe("Welch's t-test", () => {
  it('matches scipy on raw samples (t, Welch–Satterthwaite df, p)', () => {
    const r = welchTest(meanSd([1, 2, 3, 4]), meanSd([3, 4, 5, 6, 7.5]));
    expect(r).not.toBeNull();
    expect(r?.t).toBeCloseTo(-2.5660116103430988, 10);
    expect(r?.df).toBeCloseTo(6.985266955886775, 10);
    expect(r?.p).toBeCloseTo(0.037290287332535435, 10);
  });

  it('needs two values on each side, and treats zero spread exactly', () => {
    expect(welchTest(meanSd([0.9]), meanSd([0.8, 0.81]))).toBeNull();
    expect(welchTest(meanSd([0.5, 0.5]), meanSd([0.4, 0.4]))?.p).toBe(0);
    expect(welchTest(meanSd([0.5, 0.5]), meanSd([0.5, 0.5]))?.p).toBe(1);
  });

  it('names a winner only when the runner-up is significantly behind', () => {
    const clear = significantWinner([meanSd([0.79, 0.785, 0.795]), meanSd([0.81, 0.805, 0.815]), meanSd([0.6, 0.61])]);
    expect(clear.kind).toBe('winner');
    if (clear.kind !== 'winner') return;
    expect(clear.index).toBe(1);
    expect(clear.runnerUp).toBe(0);
    expect(clear.test.p).toBeCloseTo(0.008049893100837691, 8);

    // overlapping SDs at n = 2: the higher mean is not a winner
    const overlap = significantWinner([meanSd([0.44, 0.38]), meanSd([0.40, 0.41])]);
    expect(overlap).toMatchObject({ kind: 'no-clear-winner', index: 0, runnerUp: 1 });
    if (overlap.kind === 'no-clear-winner') expect(overlap.reason).toMatch(/^p = 0\.\d+, n=2 vs 2$/);

    expect(significantWinner([meanSd([0.9]), meanSd([0.8, 0.81])])).toMatchObject({ kind: 'no-clear-winner', reason: 'n < 2 (n=1 vs 2)' });
    expect(significantWinner([meanSd([0.9, 0.91]), meanSd([])])).toEqual({ kind: 'alone', index: 0 });
    expect(significantWinner([meanSd([])])).toEqual({ kind: 'none' });
  });

  it('formats p-values', () => {
    expect(formatP(0.07338)).toBe('p = 0.073');
    expect(formatP(0.0004)).toBe('p < 0.001');
  });
});
