import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { demoSweepSpec, DEMO_DEFAULTS, groupsForWidth } from '../../src-main/cli/commands/demo';
import { expandSweep } from '../../src-main/sweeps/expand';
import { parseSweepSpec } from '../../src-main/sweeps/spec';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import { tempDir } from '../main/scheduler/helpers';

const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');

describe('normlab demo', () => {
  it('scales GroupNorm groups with the width', () => {
    expect(groupsForWidth(1)).toBe(32);
    expect(groupsForWidth(0.0625)).toBe(2);
    expect(groupsForWidth(0.01)).toBe(1);
  });

  it('is a valid sweep: every model × every seed', () => {
    const spec = demoSweepSpec({ ...DEMO_DEFAULTS, models: DEMO_DEFAULTS.models.join(','), backend: 'wasm' });
    const { runs } = expandSweep(parseSweepSpec(spec));
    expect(runs).toHaveLength(DEMO_DEFAULTS.models.length * DEMO_DEFAULTS.seeds);
    expect(new Set(runs.map((r) => r.model))).toEqual(new Set(DEMO_DEFAULTS.models));
    expect(runs.every((r) => r.groups === 2 && r.width === DEMO_DEFAULTS.width)).toBe(true);
  });

  it('runs through the store and the scheduler and prints mean ± SD per model', () => {
    const db = join(tempDir('normlab-demo-'), 'demo.db');
    const result = spawnSync(
      process.execPath,
      [BIN, 'demo', '--models', 'kn_cnn,cnn', '--seeds', '2', '--epochs', '1', '--width', '0.25',
        '--synthetic-train-size', '256', '--synthetic-test-size', '128', '--backend', 'wasm', '--workers', '2', '--db', db],
      { encoding: 'utf8', timeout: 180_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^model\s+lr\s+batch\s+n\s+final top-1 % \(mean ± SD\)/);
    for (const model of ['kn_cnn', 'cnn']) {
      expect(lines.find((l) => l.startsWith(model + ' '))).toMatch(new RegExp(`^${model}\\s+0\\.05\\s+32\\s+2\\s+\\d+\\.\\d\\d ± \\d+\\.\\d\\d`));
    }
    const store = ExperimentStore.open(db, { readonly: true });
    try {
      expect(store.listRuns().map((r) => r.status)).toEqual(['finished', 'finished', 'finished', 'finished']);
      expect(store.aggregates().map((a) => a.n)).toEqual([2, 2]);
    } finally {
      store.close();
    }
  });
});
