import { PresetError, presetFields, resolvePreset } from '../../src-worker/train/presets';
import { parseRunSpec, runSpecSchema, type RunSpec, type RunSpecInput } from '../../src-worker/run-spec';
import { batchProblem, knownTrainSize } from '../../src-worker/data/train-size';
import { configGroupKey } from '../store/group-key';
import { renderPath, splitDotted, SweepSpecError, type SweepSpec } from './spec';

/** Seeds a sweep runs each config with: `seeds`, else 1..repeats, else the run spec's default seed. */
export function sweepSeeds(spec: SweepSpec): number[] {
  if (spec.lrSearch) return spec.seeds ? spec.seeds.slice(0, spec.lrSearch.repeats) : range1(spec.lrSearch.repeats);
  if (spec.seeds) return [...spec.seeds];
  if (spec.repeats !== undefined) return range1(spec.repeats);
  return [parseRunSpec({ model: 'x', dataset: 'synthetic', epochs: 1, batchSize: 1, lr: 1 }).seed];
}

function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Every combination of the grid axes, in the order the axes are written, last axis varying fastest. */
export function gridPoints(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [field, values] of Object.entries(grid)) {
    points = points.flatMap((point) => values.map((value) => ({ ...point, [field]: value })));
  }
  return points;
}

/** One combination of a sweep: the values its point and grid give, and which point (of `points`) it came from. */
export interface SweepPoint {
  values: Record<string, unknown>;
  /** Index into spec.points; undefined for a sweep without points. */
  point?: number;
}

/**
 * Every combination a sweep runs, each point of `points` (in order) crossed with the grid product: a sweep without
 * points is exactly its grid product, so its runs, their order and their keys are what they were before points.
 */
export function sweepPoints(spec: Pick<SweepSpec, 'grid' | 'points'>): SweepPoint[] {
  const grid = gridPoints(spec.grid);
  if (!spec.points) return grid.map((values) => ({ values }));
  return spec.points.flatMap((fixed, point) => grid.map((values) => ({ values: { ...fixed, ...values }, point })));
}

export interface Expansion {
  /** Concrete, validated run specs (presets resolved), seed-major: every config's first seed comes first. */
  runs: RunSpec[];
  /** Distinct config groups among them. */
  groups: number;
}

/**
 * Turns a sweep spec into run specs: (points ×) grid product × seeds. With lrSearch, the combinations are the search
 * families and each starts with one run at lrSearch.start with the first seed; the searcher proposes the rest as
 * results arrive.
 */
export function expandSweep(spec: SweepSpec): Expansion {
  const seeds = spec.lrSearch ? sweepSeeds(spec).slice(0, 1) : sweepSeeds(spec);
  const configs = sweepPoints(spec).map((point) => resolveConfig(spec, point));
  const runs: RunSpec[] = [];
  for (const seed of seeds) {
    for (const config of configs) runs.push(parseRunSpec({ ...config, seed }));
  }
  return { runs, groups: new Set(runs.map(configGroupKey)).size };
}

/**
 * Where the spec sets a field of this combination, as the user wrote it: `points[3].lr`, `grid.preset[1]` (with
 * `withIndex`), `grid.batchSize`, else `base.<field>` (dotted names as nested paths there).
 */
function placeOf(spec: SweepSpec, { values, point }: SweepPoint, field: string, withIndex = false): string {
  if (point !== undefined && spec.points && field in spec.points[point]) return renderPath(['points', point, field]);
  if (field in values) {
    const at = spec.grid[field]?.indexOf(values[field]) ?? -1;
    return renderPath(withIndex && at >= 0 ? ['grid', field, at] : ['grid', field]);
  }
  return renderPath(['base', ...field.split('.')]);
}

/**
 * base + one combination (+ lrSearch.start), with a preset resolved (presets.ts: explicit fields win, dp options
 * refine the preset's, DP implies Mish and ε = 8); checked against the run spec schema.
 */
function resolveConfig(spec: SweepSpec, combination: SweepPoint): RunSpecInput {
  const point = combination.values;
  const plain = Object.fromEntries(Object.entries(point).filter(([axis]) => !splitDotted(axis)));
  const merged: Record<string, unknown> = { ...spec.base, ...plain };
  if (spec.lrSearch) merged.lr = spec.lrSearch.start;
  let fromPreset: Record<string, unknown> = {};
  try {
    if (typeof merged.preset === 'string') fromPreset = presetFields(merged.preset);
  } catch (error) {
    if (error instanceof PresetError) throw new SweepSpecError([`${placeOf(spec, combination, 'preset', true)}: ${error.message}`]);
    throw error;
  }
  // a dotted axis sets one option of an object field over what base (or else the preset) has for it
  for (const [axis, value] of Object.entries(point)) {
    const dotted = splitDotted(axis);
    if (!dotted) continue;
    const [field, key] = dotted;
    const current = merged[field] ?? fromPreset[field];
    if (current === undefined) {
      throw new SweepSpecError([
        `${placeOf(spec, combination, axis)}: varies ${field}.${key}, but nothing sets ${field}: give base.${field} (the other options) or a preset that has it` +
          (field === 'dp' ? ' (dp-paper)' : ''),
      ]);
    }
    merged[field] = { ...(merged[field] as object | undefined), [key]: value };
  }
  const resolved = resolvePreset(merged);
  const problems = describeRunProblems(point, resolved);
  if (problems.length) throw new SweepSpecError(problems);
  const batch = describeBatchProblem(spec, combination, parseRunSpec({ ...resolved, seed: 0 }));
  if (batch) throw new SweepSpecError([batch]);
  return resolved as RunSpecInput;
}

/**
 * A batch larger than the training set, where the set's size follows from the spec (synthetic, CIFAR): the worker
 * would refuse every such run, so the sweep is refused before they are queued. Named where the field is set.
 */
function describeBatchProblem(spec: SweepSpec, combination: SweepPoint, run: RunSpec): string | undefined {
  const trainSize = knownTrainSize(run);
  const problem = trainSize === undefined ? undefined : batchProblem(run, trainSize);
  if (!problem) return undefined;
  const where = placeOf(spec, combination, problem.field);
  const label = Object.entries(combination.values)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  const more = run.dataset === 'synthetic' || run.dataset === 'synthetic-textured' ? ' or raise syntheticTrainSize' : '';
  return `${where}${label ? ` (grid point ${label})` : ''}: ${problem.message}; lower ${problem.field}${more}`;
}

/**
 * Fields were checked one by one already, so what is left is a field no place sets (pointed at base, where the
 * user would add it) or a rule across fields (named with its grid point).
 */
function describeRunProblems(point: Record<string, unknown>, resolved: Partial<RunSpecInput>): string[] {
  const parsed = runSpecSchema.safeParse({ ...resolved, seed: 0 });
  if (parsed.success) return [];
  const label = Object.entries(point)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  const problems = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    if (field && !(field in resolved)) return `base.${field}: required (set it in base, as a grid axis, or through a preset)`;
    return `${renderPath(issue.path)}${label ? ` (grid point ${label})` : ''}: ${issue.message}`;
  });
  return [...new Set(problems)];
}
