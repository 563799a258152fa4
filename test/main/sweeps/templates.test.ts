import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configGroupKey, runKey } from '../../../src-main/store';
import { expandSweep, parseSweepSpec } from '../../../src-main/sweeps';
import {
  expandSweepTemplate, getSweepTemplate, listSweepTemplates, SweepTemplateError, templateSweepOf,
} from '../../../src-main/sweeps/templates';
import { TABLE1_MODELS } from '../../../src-main/sweeps/templates/paper-table1';
import { listModels } from '../../../src-worker/models';
import { presetFields } from '../../../src-worker/train/presets';

/**
 * The reference's Table 1 configurations, copied from its reproducibility/table1-*.sh as data
 * (test/fixtures/table1-reference-lrs.json names the commit): the template must queue exactly these, each 3 times.
 */
interface ReferenceConfig {
  script: string;
  model: string;
  lr: string;
  batchSize: number;
}
const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'table1-reference-lrs.json'), 'utf8')) as {
  configs: ReferenceConfig[];
};
const key = (model: string, batchSize: number) => `${model}@${batchSize}`;

describe('the paper-table1 template', () => {
  const expansion = expandSweepTemplate('paper-table1');

  it('expands to the reference scripts\' 63 configurations × 3 repeats = 189 runs', () => {
    expect(reference.configs).toHaveLength(63);
    expect(expansion.runs).toHaveLength(189);
    expect(expansion.configs).toBe(63);
    const perConfig = new Map<string, number[]>();
    for (const { spec } of expansion.runs) {
      const k = key(spec.model, spec.batchSize);
      perConfig.set(k, [...(perConfig.get(k) ?? []), spec.seed]);
    }
    expect([...perConfig.keys()].sort()).toEqual(reference.configs.map((c) => key(c.model, c.batchSize)).sort());
    for (const seeds of perConfig.values()) expect(seeds.sort((a, b) => a - b)).toEqual([1, 2, 3]);
  });

  it('gives every run the learning rate its script line gives that model and batch size', () => {
    const lrOf = new Map(reference.configs.map((c) => [key(c.model, c.batchSize), Number(c.lr)]));
    for (const { spec } of expansion.runs) {
      expect({ run: key(spec.model, spec.batchSize), lr: spec.lr }).toEqual({ run: key(spec.model, spec.batchSize), lr: lrOf.get(key(spec.model, spec.batchSize)) });
    }
    // the scripts' one odd value is kept as written
    expect(expansion.runs.find((r) => r.spec.model === 'resnet50_bn' && r.spec.batchSize === 2)?.spec.lr).toBe(0.000390626);
  });

  it('trains every run with the cifar100-paper recipe, as run-cifar100.sh does, at the paper\'s width', () => {
    const recipe = presetFields('cifar100-paper');
    for (const { spec } of expansion.runs) {
      expect(spec).toMatchObject({
        dataset: 'cifar100', epochs: 150, momentum: recipe.momentum, weightDecay: recipe.weightDecay,
        schedule: recipe.schedule, lowResolution: true, width: 1, preset: 'cifar100-paper',
      });
    }
    expect(recipe).toMatchObject({ momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine', decay: 0.01 }, epochs: 150 });
  });

  it('uses only registered models, and each row of the table is one of them', () => {
    const known = new Set(listModels().map((m) => m.name));
    expect(TABLE1_MODELS.filter((m) => !known.has(m))).toEqual([]);
    expect(new Set(expansion.runs.map((r) => r.spec.model))).toEqual(new Set(TABLE1_MODELS));
  });

  it('is one sweep of the variant, whose points give each (model, batch size) its own lr', () => {
    expect(expansion.specs.map((s) => s.name)).toEqual(['paper-table1 w1 e150']);
    const [spec] = expansion.specs;
    expect(spec.grid).toEqual({});
    expect(spec.points).toHaveLength(63);
    expect(new Set(spec.points?.map((p) => key(String(p.model), Number(p.batchSize)))).size).toBe(63);
    expect(expansion.runs.every((r) => r.sweep === spec.name)).toBe(true);
  });

  it('queues exactly the runs of the 11 grid sweeps (one per batch size and lr) it replaces, with the same run keys', () => {
    // what the template queued before sweep specs had points: base batchSize and lr, a grid over the models sharing them
    const parts = new Map<string, { batchSize: number; lr: number; models: string[] }>();
    for (const c of reference.configs) {
      const part = parts.get(`${c.batchSize}:${c.lr}`) ?? { batchSize: c.batchSize, lr: Number(c.lr), models: [] };
      part.models.push(c.model);
      parts.set(`${c.batchSize}:${c.lr}`, part);
    }
    expect(parts.size).toBe(11);
    for (const options of [{}, { width: 0.0625, epochs: 1, dataDir: '/data/cifar' }]) {
      const byPart = [...parts.values()].flatMap(({ batchSize, lr, models }) =>
        expandSweep(parseSweepSpec({ name: `b${batchSize} lr${lr}`, base: { preset: 'cifar100-paper', batchSize, lr, ...options }, grid: { model: models }, repeats: 3 })).runs,
      );
      const template = expandSweepTemplate('paper-table1', options).runs.map((r) => r.spec);
      expect(template.map(runKey).sort()).toEqual(byPart.map(runKey).sort());
    }
  });

  it('applies --width and --epochs overrides to every run and keeps the quick look in a sweep of its own', () => {
    const quick = expandSweepTemplate('paper-table1', { width: 0.0625, epochs: 1, dataDir: '/data/cifar' });
    expect(quick.runs).toHaveLength(189);
    for (const { spec } of quick.runs) expect(spec).toMatchObject({ width: 0.0625, epochs: 1, dataDir: '/data/cifar' });
    const full = new Set(expansion.specs.map((s) => s.name));
    expect(quick.specs.filter((s) => full.has(s.name))).toEqual([]);
    // the overrides change the config groups: a quick look never aggregates with the full study
    const fullKeys = new Set(expansion.runs.map((r) => configGroupKey(r.spec)));
    expect(quick.runs.filter((r) => fullKeys.has(configGroupKey(r.spec)))).toEqual([]);
  });

  it('recognises its sweeps and their variant from the stored name and spec', () => {
    const quick = expandSweepTemplate('paper-table1', { width: 0.25, epochs: 2 });
    const stored = (spec: { name: string }) => ({ name: spec.name, spec });
    expect(templateSweepOf(stored(quick.specs[0]))).toEqual({ template: 'paper-table1', width: 0.25, epochs: 2 });
    expect(templateSweepOf(stored(expansion.specs[0]))).toEqual({ template: 'paper-table1', width: 1, epochs: 150 });
    expect(templateSweepOf({ name: 'paper-table1-mine', spec: {} })).toBeNull();
    expect(templateSweepOf({ name: 'kn-vs-bn', spec: {} })).toBeNull();
  });

  it('refuses an unknown template naming the known ones, and bad options naming the option', () => {
    expect(() => getSweepTemplate('paper-table9')).toThrow(new SweepTemplateError('unknown sweep template "paper-table9" (known: paper-table1)'));
    expect(() => expandSweepTemplate('paper-table1', { width: -1 })).toThrow(/invalid options for sweep template "paper-table1": width: /);
    expect(() => expandSweepTemplate('paper-table1', { epochs: 1.5 })).toThrow(/epochs: /);
  });

  it('is listed with its run count', () => {
    expect(listSweepTemplates()).toEqual([
      expect.objectContaining({ name: 'paper-table1', configs: 63, runs: 189, repeats: 3, defaults: { width: 1, epochs: 150 } }),
    ]);
  });
});
