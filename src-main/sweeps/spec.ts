import { z } from 'zod';
import { runSpecSchema } from '../../src-worker/run-spec';
import { executorSpecSchema } from '../slurm/executor-spec';
import { canonicalJson } from '../store/group-key';

/**
 * A sweep spec as a user writes it (JSON):
 *   { "name": "kn-vs-bn", "base": { ...run fields }, "grid": { "model": [...], "lr": [...] },
 *     "seeds": [1, 2, 3] | "repeats": 3, "lrSearch": { "start": 0.2, "factor": 0.5, "maxSteps": 6, "repeats": 3 },
 *     "priority": 0, "executor": { "kind": "slurm", "gres": "gpu:1", "time": "04:00:00" } }
 * A grid axis may name a field inside an object-valued run field with a dot: "dp.maxGradNorm": [1, 2] varies the
 * clipping bound and keeps the rest of base.dp (or of a DP preset's dp).
 * "points": [{ "model": "knresnet18", "batchSize": 2, "lr": 0.0015625 }, ...] lists combinations a product cannot
 * express (a paper's learning rate tuned per model and batch size); every point sets the same fields, none of which
 * is also a grid axis or in base, and the runs are points × grid × seeds.
 * Field-level checks reuse the run spec's own schema, so a grid value is held to exactly the rules a run is.
 */

type RunField = keyof typeof runSpecSchema.shape;
const RUN_FIELDS = Object.keys(runSpecSchema.shape) as RunField[];
/** Set by the store or by `seeds`/`repeats`; a sweep cannot vary or fix them through base or grid. */
const RESERVED: Partial<Record<RunField, string>> = {
  runId: 'is assigned by the store',
  seed: 'is set per run from "seeds" or "repeats"',
};

export const lrSearchSchema = z.strictObject({
  start: z.number().positive().default(0.2),
  /** Each step multiplies lr by this (0.5: halve). */
  factor: z.number().gt(0).lt(1).default(0.5),
  maxSteps: z.number().int().positive().max(30).default(6),
  /** Runs at the best lr, counting the search run itself. */
  repeats: z.number().int().positive().max(100).default(3),
  /** What "the result improves" compares. */
  metric: z.enum(['final_test_acc', 'best_test_acc']).default('final_test_acc'),
});
export type LrSearchSettings = z.output<typeof lrSearchSchema>;

const sweepSpecObject = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().optional(),
  // undefined (possible from JS callers, not from JSON) means unset
  base: z.record(z.string(), z.unknown()).default({}).transform((base) => Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined))),
  grid: z.record(z.string(), z.array(z.unknown()).min(1)).default({}),
  points: z.array(z.record(z.string(), z.unknown())).min(1).max(100_000).optional(),
  seeds: z.array(z.number().int().min(0)).min(1).max(1000).optional(),
  repeats: z.number().int().positive().max(1000).optional(),
  lrSearch: lrSearchSchema.optional(),
  priority: z.number().int().default(0),
  /**
   * Where the runs train (the CLI's --executor flags override it). Not a run field: it never enters a run's config
   * or its config-group key, so the same sweep on a cluster and on a workstation aggregates as one.
   */
  executor: executorSpecSchema.optional(),
});

/**
 * The schema a value of `field` (a run field, or `field.key` inside an object-valued one) is held to; null, with the
 * problem reported at `path`, for a name that is unknown or reserved.
 */
function axisSchema(field: string, path: (string | number)[], ctx: z.RefinementCtx): z.ZodType | null {
  const dotted = splitDotted(field);
  if (dotted) return nestedSchema(dotted, path, ctx);
  if (!(field in runSpecSchema.shape)) {
    ctx.addIssue({ code: 'custom', path, message: `unknown run field "${field}" (known: ${RUN_FIELDS.join(', ')})` });
    return null;
  }
  const reserved = RESERVED[field as RunField];
  if (reserved) {
    ctx.addIssue({ code: 'custom', path, message: `"${field}" ${reserved}` });
    return null;
  }
  return runSpecSchema.shape[field as RunField];
}

function nestedSchema([field, key]: [string, string], path: (string | number)[], ctx: z.RefinementCtx): z.ZodType | null {
  const shape = objectFieldShape(field);
  if (!shape) {
    const objects = RUN_FIELDS.filter((f) => objectFieldShape(f));
    ctx.addIssue({ code: 'custom', path, message: `"${field}" is not a run field with options to vary (dotted axes reach into: ${objects.join(', ')})` });
    return null;
  }
  const schema = shape[key];
  if (!schema) {
    ctx.addIssue({ code: 'custom', path, message: `unknown field "${key}" of ${field} (known: ${Object.keys(shape).join(', ')})` });
    return null;
  }
  return schema;
}

/** Reports each way `value` breaks `schema`, under `path` (the value's place in the spec). */
function checkValue(schema: z.ZodType, value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', path: [...path, ...(issue.path as (string | number)[])], message: issue.message });
    }
  }
}

function checkRunField(field: string, value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  const schema = axisSchema(field, path, ctx);
  if (schema) checkValue(schema, value, path, ctx);
}

/** The object-valued run fields a dotted grid axis can reach into, with their keys' schemas. */
export function objectFieldShape(field: string): Record<string, z.ZodType> | null {
  if (!(field in runSpecSchema.shape)) return null;
  let schema: z.ZodType = runSpecSchema.shape[field as RunField];
  if (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
  return schema instanceof z.ZodObject ? (schema.shape) : null;
}

/** `"dp.maxGradNorm"` → ['dp', 'maxGradNorm']; null for a plain field name. */
export function splitDotted(axis: string): [string, string] | null {
  const dot = axis.indexOf('.');
  return dot < 0 ? null : [axis.slice(0, dot), axis.slice(dot + 1)];
}

type SpecShape = { base: Record<string, unknown>; grid: Record<string, unknown[]>; points?: Record<string, unknown>[] };

function checkNestedAxis(axis: string, values: unknown[], spec: SpecShape, ctx: z.RefinementCtx): void {
  const schema = axisSchema(axis, ['grid', axis], ctx);
  if (!schema) return;
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    checkValue(schema, value, ['grid', axis, i], ctx);
    const first = seen.get(canonicalJson(value));
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['grid', axis, i], message: `duplicate of grid["${axis}"][${first}]` });
    else seen.set(canonicalJson(value), i);
  });
  checkNestedPlacement(axis, ['grid', axis], 'a grid axis', spec, ctx);
}

/**
 * A dotted axis refines one option of an object field, so the whole field cannot vary beside it, and base cannot set
 * that option too. `what` says where the axis itself is (a grid axis, or set by points).
 */
function checkNestedPlacement(axis: string, path: (string | number)[], what: string, spec: SpecShape, ctx: z.RefinementCtx): void {
  const dotted = splitDotted(axis);
  if (!dotted) return;
  const [field, key] = dotted;
  if (field in spec.grid) {
    ctx.addIssue({ code: 'custom', path, message: `grid.${field} is an axis too; vary ${field} whole or by its fields, not both` });
  }
  if (pointFields(spec).includes(field)) {
    ctx.addIssue({ code: 'custom', path, message: `points set ${field} whole too; vary ${field} whole or by its fields, not both` });
  }
  const inBase = spec.base[field];
  if (inBase !== null && typeof inBase === 'object' && key in inBase) {
    ctx.addIssue({ code: 'custom', path: ['base', field, key], message: `also ${what}; set it in one place only` });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The fields the points set (those of points[0]); none while the list itself is malformed, which zod reports and
 * still runs the refinements over.
 */
function pointFields(spec: SpecShape): string[] {
  const first: unknown = spec.points?.[0];
  return isRecord(first) ? Object.keys(first) : [];
}

function fieldList(fields: readonly string[]): string {
  return fields.length ? fields.join(', ') : 'no field';
}

/**
 * Every point sets the fields points[0] sets (a combination, not a partial override), each value held to the run
 * spec's rules like a grid value, and no field is also a grid axis or in base.
 */
function checkPoints(points: Record<string, unknown>[], spec: SpecShape, ctx: z.RefinementCtx): void {
  const fields = pointFields(spec);
  if (fields.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['points', 0], message: 'sets no field; a point gives a value to each of the fields it varies' });
    return;
  }
  // a field's name is checked once, at points[0], so a typo is one problem and not one per point
  const schemas = new Map(fields.map((field) => [field, axisSchema(field, ['points', 0, field], ctx)]));
  const seen = new Map<string, number>();
  points.forEach((point, i) => {
    const own = Object.keys(point);
    const missing = fields.filter((f) => !(f in point));
    const extra = own.filter((f) => !schemas.has(f));
    if (missing.length || extra.length) {
      const differs = [...(missing.length ? [`lacks ${missing.join(', ')}`] : []), ...(extra.length ? [`adds ${extra.join(', ')}`] : [])];
      ctx.addIssue({
        code: 'custom', path: ['points', i],
        message: `sets ${fieldList(own)} but points[0] sets ${fieldList(fields)} (${differs.join(', ')}); every point sets the same fields`,
      });
    }
    for (const [field, value] of Object.entries(point)) {
      const schema = schemas.get(field);
      if (schema) checkValue(schema, value, ['points', i, field], ctx);
    }
    const text = canonicalJson(point);
    const first = seen.get(text);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['points', i], message: `duplicate of points[${first}]` });
    else seen.set(text, i);
  });
  for (const field of fields) {
    if (field in spec.grid) {
      ctx.addIssue({ code: 'custom', path: ['grid', field], message: `also set by every point of "points"; give ${field} in points or in grid, not both` });
    }
    if (splitDotted(field)) checkNestedPlacement(field, ['points', 0, field], 'set by points', spec, ctx);
    else if (field in spec.base) ctx.addIssue({ code: 'custom', path: ['base', field], message: 'also set by points; set it in one place only' });
  }
}

export const sweepSpecSchema = sweepSpecObject.superRefine((spec, ctx) => {
  for (const [field, value] of Object.entries(spec.base)) checkRunField(field, value, ['base', field], ctx);
  for (const [field, values] of Object.entries(spec.grid)) {
    if (splitDotted(field)) {
      checkNestedAxis(field, values, spec, ctx);
      continue;
    }
    const schema = axisSchema(field, ['grid', field], ctx);
    if (!schema) continue;
    const seen = new Map<string, number>();
    values.forEach((value, i) => {
      checkValue(schema, value, ['grid', field, i], ctx);
      const text = canonicalJson(value);
      const first = seen.get(text);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['grid', field, i], message: `duplicate of grid.${field}[${first}]` });
      } else {
        seen.set(text, i);
      }
    });
    if (field in spec.base) {
      ctx.addIssue({ code: 'custom', path: ['base', field], message: `also a grid axis; set it in one place only` });
    }
  }
  if (spec.points?.length && spec.points.every(isRecord)) checkPoints(spec.points, spec, ctx);
  if (spec.seeds && spec.repeats !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['repeats'], message: 'give "seeds" or "repeats", not both' });
  }
  spec.seeds?.forEach((seed, i) => {
    const first = spec.seeds!.indexOf(seed);
    if (first !== i) ctx.addIssue({ code: 'custom', path: ['seeds', i], message: `duplicate of seeds[${first}]` });
  });
  if (spec.lrSearch) {
    const picks = 'the learning-rate search (lrSearch) picks lr; remove it here';
    if ('lr' in spec.grid) ctx.addIssue({ code: 'custom', path: ['grid', 'lr'], message: picks });
    if ('lr' in spec.base) ctx.addIssue({ code: 'custom', path: ['base', 'lr'], message: picks });
    if (pointFields(spec).includes('lr')) {
      ctx.addIssue({ code: 'custom', path: ['points', 0, 'lr'], message: 'the learning-rate search (lrSearch) picks lr; remove lr from every point' });
    }
    if (spec.repeats !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['repeats'], message: 'with lrSearch, set lrSearch.repeats instead' });
    }
    if (spec.seeds && spec.seeds.length < spec.lrSearch.repeats) {
      ctx.addIssue({
        code: 'custom',
        path: ['seeds'],
        message: `lists ${spec.seeds.length} seeds but lrSearch.repeats is ${spec.lrSearch.repeats}`,
      });
    }
  }
});

export type SweepSpecInput = z.input<typeof sweepSpecSchema>;
export type SweepSpec = z.output<typeof sweepSpecSchema>;

/** Renders a zod path as the spec is written: `grid.lr[2]`, `base.schedule.decay`, `grid["dp.maxGradNorm"][1]`. */
export function renderPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (String(part).includes('.')) out += `[${JSON.stringify(String(part))}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

/**
 * Where a spec sets `field` to `value`, as the user wrote it, for a problem found in a run of it: the grid entry
 * (`grid.model[1]`), else the first point with that value (`points[3].model`), else `base.<field>`.
 */
export function fieldPathOf(spec: Pick<SweepSpec, 'grid' | 'points'>, field: string, value: unknown): string {
  const text = canonicalJson(value);
  const at = spec.grid[field]?.findIndex((v) => canonicalJson(v) === text) ?? -1;
  if (at >= 0) return renderPath(['grid', field, at]);
  const point = spec.points?.findIndex((p) => field in p && canonicalJson(p[field]) === text) ?? -1;
  if (point >= 0) return renderPath(['points', point, field]);
  return renderPath(['base', ...field.split('.')]);
}

/** Lists every problem of a spec, one `path: message` per line. */
export class SweepSpecError extends Error {
  override name = 'SweepSpecError';
  constructor(readonly problems: string[]) {
    super(`invalid sweep spec:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

function formatIssue(issue: z.core.$ZodIssue): string {
  // zod reports unknown keys on the object; name each key in the path instead, as the user sees it
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${renderPath([...issue.path, key])}: unknown field`).join('\n');
  }
  return `${renderPath(issue.path)}: ${issue.message}`;
}

/** Validates untrusted input (a parsed JSON value) into a SweepSpec, or throws SweepSpecError. */
export function parseSweepSpec(input: unknown): SweepSpec {
  const parsed = sweepSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new SweepSpecError(parsed.error.issues.flatMap((issue) => formatIssue(issue).split('\n')));
  }
  return parsed.data;
}
