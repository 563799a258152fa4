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

function checkRunField(
  field: string,
  value: unknown,
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  if (!(field in runSpecSchema.shape)) {
    ctx.addIssue({ code: 'custom', path, message: `unknown run field "${field}" (known: ${RUN_FIELDS.join(', ')})` });
    return;
  }
  const reserved = RESERVED[field as RunField];
  if (reserved) {
    ctx.addIssue({ code: 'custom', path, message: `"${field}" ${reserved}` });
    return;
  }
  const parsed = runSpecSchema.shape[field as RunField].safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', path: [...path, ...(issue.path as (string | number)[])], message: issue.message });
    }
  }
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

function checkNestedAxis(axis: string, values: unknown[], spec: { base: Record<string, unknown>; grid: Record<string, unknown[]> }, ctx: z.RefinementCtx): void {
  const [field, key] = splitDotted(axis)!;
  const shape = objectFieldShape(field);
  if (!shape) {
    const objects = RUN_FIELDS.filter((f) => objectFieldShape(f));
    ctx.addIssue({ code: 'custom', path: ['grid', axis], message: `"${field}" is not a run field with options to vary (dotted axes reach into: ${objects.join(', ')})` });
    return;
  }
  const schema = shape[key];
  if (!schema) {
    ctx.addIssue({ code: 'custom', path: ['grid', axis], message: `unknown field "${key}" of ${field} (known: ${Object.keys(shape).join(', ')})` });
    return;
  }
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: 'custom', path: ['grid', axis, i, ...(issue.path as (string | number)[])], message: issue.message });
      }
    }
    const first = seen.get(canonicalJson(value));
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['grid', axis, i], message: `duplicate of grid["${axis}"][${first}]` });
    else seen.set(canonicalJson(value), i);
  });
  if (field in spec.grid) {
    ctx.addIssue({ code: 'custom', path: ['grid', axis], message: `grid.${field} is an axis too; vary ${field} whole or by its fields, not both` });
  }
  const inBase = spec.base[field];
  if (inBase !== null && typeof inBase === 'object' && key in inBase) {
    ctx.addIssue({ code: 'custom', path: ['base', field, key], message: 'also a grid axis; set it in one place only' });
  }
}

export const sweepSpecSchema = sweepSpecObject.superRefine((spec, ctx) => {
  for (const [field, value] of Object.entries(spec.base)) checkRunField(field, value, ['base', field], ctx);
  for (const [field, values] of Object.entries(spec.grid)) {
    if (splitDotted(field)) {
      checkNestedAxis(field, values, spec, ctx);
      continue;
    }
    if (!(field in runSpecSchema.shape) || RESERVED[field as RunField]) {
      checkRunField(field, values[0], ['grid', field], ctx);
      continue;
    }
    const seen = new Map<string, number>();
    values.forEach((value, i) => {
      checkRunField(field, value, ['grid', field, i], ctx);
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
