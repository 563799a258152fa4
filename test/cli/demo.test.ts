import { describe, expect, it } from 'vitest';
import { formatDemoTable, groupsForWidth, meanSd } from '../../src-main/cli/commands/demo';

describe('demo summary', () => {
  it('mean ± sample SD over seeds', () => {
    const { mean, sd } = meanSd([0.2, 0.4]);
    expect(mean).toBeCloseTo(0.3, 12);
    expect(sd).toBeCloseTo(Math.SQRT2 * 0.1, 12); // sqrt(((0.1)^2 + (0.1)^2) / 1)
    expect(meanSd([0.5])).toEqual({ mean: 0.5, sd: 0 });
  });

  it('formats one aligned row per model', () => {
    const table = formatDemoTable([
      { model: 'knresnet18', accuracies: [0.2, 0.4], mean: 0.3, sd: 0.1414, seconds: 12.4 },
      { model: 'resnet18_bn', accuracies: [], mean: 0, sd: 0, seconds: 1 },
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^model\s+test top-1 \(mean ± SD\)\s+seeds\s+time$/);
    expect(lines[2]).toMatch(/^knresnet18\s+30\.00% ± 14\.14\s+2\s+12 s$/);
    expect(lines[3]).toMatch(/^resnet18_bn\s+failed\s+0\s+1 s$/);
  });

  it('scales GroupNorm groups with the width', () => {
    expect(groupsForWidth(1)).toBe(32);
    expect(groupsForWidth(0.0625)).toBe(2);
    expect(groupsForWidth(0.01)).toBe(1);
  });
});
