import { describe, expect, it } from 'vitest';
import { erfc, logAdd, logErfc, logSub } from '../../../src-worker/train/dp/log-math';

// Reference values: mpmath 1.3 erfc at 30 significant digits (they agree with the printed digits of
// Abramowitz & Stegun, Table 7.1, where that table has them).
const ERFC_REFERENCE: [number, number][] = [
  [-1, 1.842700792949715],
  [0.5, 0.4795001221869535],
  [1, 0.15729920705028513],
  [2, 0.004677734981047266],
  [3, 2.209049699858544e-5],
  [5, 1.537459794428035e-12],
  [10, 2.088487583762545e-45],
];
const LOG_ERFC_TAIL: [number, number][] = [
  [20, -403.56934333410425],
  [40, -1604.2615566532736],
  [100, -10005.177585122665],
];

describe('erfc and logErfc', () => {
  it.each(ERFC_REFERENCE)('erfc(%d) matches the reference to 1e-14 relative', (x, expected) => {
    expect(Math.abs(erfc(x) - expected) / expected).toBeLessThan(1e-14);
    expect(Math.abs(logErfc(x) - Math.log(expected))).toBeLessThan(1e-13);
  });

  it.each(LOG_ERFC_TAIL)('logErfc(%d) stays exact where erfc underflows', (x, expected) => {
    expect(Math.abs(logErfc(x) - expected) / Math.abs(expected)).toBeLessThan(1e-14);
  });

  it('is continuous where the series hands over to the continued fraction', () => {
    // Both sides of x = 1.5 must agree with the derivative d/dx log erfc = −2e^{−x²}/(√π erfc(x)).
    const x = 1.5;
    const h = 1e-7;
    const slope = (-2 * Math.exp(-x * x)) / (Math.sqrt(Math.PI) * erfc(x));
    expect(logErfc(x + h) - logErfc(x - h)).toBeCloseTo(2 * h * slope, 13);
  });

  it('handles the limits', () => {
    expect(logErfc(Infinity)).toBe(-Infinity);
    expect(logErfc(-Infinity)).toBeCloseTo(Math.log(2), 15);
    expect(erfc(0)).toBe(1);
    expect(Number.isNaN(logErfc(NaN))).toBe(true);
  });
});

describe('logAdd / logSub', () => {
  it('add and subtract in log space without overflow', () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAdd(1000, 1000)).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logAdd(-Infinity, 3)).toBe(3);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 14);
    expect(logSub(1000, 0)).toBe(1000);
    expect(logSub(2, 2)).toBe(-Infinity);
  });

  it('refuses a negative difference', () => {
    expect(() => logSub(1, 2)).toThrow(/must be non-negative/);
  });
});
