import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEMO_DATASET, demoFinding, demoLearningRate, demoSweepSpec, DEMO_DEFAULTS, groupsForWidth } from '../../src-main/cli/commands/demo';
import { expandSweep } from '../../src-main/sweeps/expand';
import { parseSweepSpec } from '../../src-main/sweeps/spec';
import { ExperimentStore } from '../../src-main/store/experiment-store';
import type { GroupAggregate } from '../../src-main/store/types';
import { tempDir } from '../main/scheduler/helpers';

const BIN = join(__dirname, '..', '..', 'bin', 'normlab.mjs');
const DEFAULT_OPTIONS = { ...DEMO_DEFAULTS, models: DEMO_DEFAULTS.models.join(','), batchSizes: DEMO_DEFAULTS.batchSizes.join(','), backend: 'wasm' as const };

describe('normlab demo', () => {
  it('scales GroupNorm groups with the width', () => {
    expect(groupsForWidth(1)).toBe(32);
    expect(groupsForWidth(0.0625)).toBe(2);
    expect(groupsForWidth(0.01)).toBe(1);
  });

  it('is a valid sweep: every model × every seed, at batch 2 and 32', () => {
    const runs = expandSweep(parseSweepSpec(demoSweepSpec(DEFAULT_OPTIONS))).runs;
    expect(runs).toHaveLength(DEMO_DEFAULTS.models.length * DEMO_DEFAULTS.batchSizes.length * DEMO_DEFAULTS.seeds);
    expect(new Set(runs.map((r) => r.model))).toEqual(new Set(DEMO_DEFAULTS.models));
    expect(runs.every((r) => r.groups === 2 && r.width === DEMO_DEFAULTS.width)).toBe(true);
    expect(new Set(runs.map((r) => r.batchSize))).toEqual(new Set([2, 32]));
    expect(runs.every((r) => r.dataset === DEMO_DATASET)).toBe(true);
  });

  it("gives each model the paper's learning rate for its batch size (reproducibility/table1-*.sh), one rule for all", () => {
    const runs = expandSweep(parseSweepSpec(demoSweepSpec(DEFAULT_OPTIONS))).runs;
    const lrOf = (model: string, batch: number) => [...new Set(runs.filter((r) => r.model === model && r.batchSize === batch).map((r) => r.lr))];
    // the scripts' lines, e.g. `./run-cifar100.sh knresnet18 0.0015625 2`
    expect(lrOf('knresnet18', 2)).toEqual([0.0015625]);
    expect(lrOf('knresnet18', 32)).toEqual([0.05]);
    expect(lrOf('resnet18_bn', 2)).toEqual([0.00078125]);
    expect(lrOf('resnet18_bn', 32)).toEqual([0.025]);
    expect(lrOf('resnet18_gn', 2)).toEqual([0.0015625]);
    expect(lrOf('resnet18_gn', 32)).toEqual([0.025]);
    expect(lrOf('resnet18_ln', 2)).toEqual([0.0015625]);
    expect(lrOf('resnet18_ln', 32)).toEqual([0.0125]);
    // --lr overrides it for every model alike; a model the paper has no rate for needs it
    expect(demoLearningRate('resnet18_bn', 2, 0.01)).toBe(0.01);
    expect(() => demoLearningRate('kn_cnn', 32)).toThrow(/no learning rate for kn_cnn.*pass --lr/);
    expect(() => demoLearningRate('knresnet18', 8)).toThrow(/batch sizes 2, 32, 256, not 8/);
  });

  it('states the finding from the numbers, including when the claim does not show', () => {
    const agg = (model: string, batchSize: number, mean: number): GroupAggregate => ({
      groupKey: `${model}-${batchSize}`, model, dataset: 'synthetic-textured', lr: 0.01, batchSize, epochs: 2, config: {}, n: 2, seeds: [0, 1],
      runCounts: { finished: 2 }, finalTestAcc: { mean, sd: 0.01, n: 2 }, bestTestAcc: { mean, sd: 0.01, n: 2 }, finalTestLoss: { mean: 1, sd: 0.1, n: 2 },
    });
    const o = { width: 0.0625, epochs: 2, syntheticTrainSize: 1024, seeds: 2 };
    const holds = demoFinding([agg('knresnet18', 2, 0.5), agg('knresnet18', 32, 0.52), agg('resnet18_bn', 2, 0.3), agg('resnet18_bn', 32, 0.55)], o);
    expect(holds).toMatch(/knresnet18 50\.0% \(bs 2\) vs 52\.0% \(bs 32\); resnet18_bn 30\.0% \(bs 2\) vs 55\.0% \(bs 32\)/);
    expect(holds).toMatch(/knresnet18 is the most accurate at batch 2; resnet18_bn loses 25\.0 points from batch 32 to 2/);
    expect(holds).toMatch(/limits: width 0\.0625, 2 epoch\(s\) on 1024/);
    expect(holds).not.toMatch(/chance \(/);
    const fails = demoFinding([agg('knresnet18', 2, 0.1), agg('knresnet18', 32, 0.1), agg('resnet18_bn', 2, 0.3), agg('resnet18_bn', 32, 0.55)], o);
    expect(fails).toMatch(/knresnet18 stay within 3 points of chance \(10%\) at both sizes; at batch 2 resnet18_bn match or beat knresnet18/);
    expect(fails.split('\n')).toHaveLength(1);
    // the reduced demo run of issue 14: only KN learned, so BatchNorm's collapse cannot be read off it
    const onlyKn = demoFinding([agg('knresnet18', 2, 0.141), agg('knresnet18', 32, 0.154), agg('resnet18_bn', 2, 0.104), agg('resnet18_bn', 32, 0.107)], o);
    expect(onlyKn).toMatch(/resnet18_bn stay within 3 points of chance .*knresnet18 is the most accurate at batch 2; resnet18_bn does not learn at batch 32 either, so BatchNorm's small-batch loss is not shown/);
  });

  it('runs through the store and the scheduler and prints mean ± SD per model', () => {
    const db = join(tempDir('normlab-demo-'), 'demo.db');
    const result = spawnSync(
      process.execPath,
      [BIN, 'demo', '--models', 'kn_cnn,cnn', '--seeds', '2', '--epochs', '1', '--width', '0.25', '--batch-sizes', '32', '--lr', '0.05',
        '--synthetic-train-size', '256', '--synthetic-test-size', '128', '--backend', 'wasm', '--workers', '2', '--db', db],
      { encoding: 'utf8', timeout: 180_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^model\s+lr\s+batch\s+n\s+final top-1 % \(mean ± SD\)/);
    for (const model of ['kn_cnn', 'cnn']) {
      expect(lines.find((l) => l.startsWith(model + ' '))).toMatch(new RegExp(`^${model}\\s+0\\.05\\s+32\\s+2\\s+\\d+\\.\\d\\d ± \\d+\\.\\d\\d`));
    }
    // one batch size: the finding line says it cannot speak to the small-batch claim
    expect(lines.at(-1)).toMatch(/^Shows: one batch size only/);
    const store = ExperimentStore.open(db, { readonly: true });
    try {
      expect(store.listRuns().map((r) => r.status)).toEqual(['finished', 'finished', 'finished', 'finished']);
      expect(store.aggregates().map((a) => a.n)).toEqual([2, 2]);
    } finally {
      store.close();
    }
  });

  it('refuses a model the paper has no learning rate for unless --lr is given (exit 2, naming the model)', () => {
    const result = spawnSync(process.execPath, [BIN, 'demo', '--models', 'kn_cnn', '--db', join(tempDir('normlab-demo-'), 'demo.db')], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no learning rate for kn_cnn/);
  });
});
