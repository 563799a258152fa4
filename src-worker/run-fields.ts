import { z } from 'zod';
import type { NormKind } from './models/types';
import { runFieldRegistry, type FieldScope, type RunFieldMeta } from './run-field-meta';
import { dpOptionsSchema, lrScheduleSchema, runSpecSchema } from './run-spec';

/**
 * The run spec's fields as data, read from the schema and its registry (run-spec.ts, run-field-meta.ts): what the
 * CLI's flags, the sweep builder, the run-detail config view and the config-group key are derived from. Pure (no
 * Node APIs), so the renderer can use it too.
 */

export type FieldKind = 'integer' | 'number' | 'boolean' | 'enum' | 'string' | 'integerList' | 'numberList' | 'schedule' | 'object';

export interface RunFieldInfo {
  /** `lr`, `dp.maxGradNorm`, `schedule.decay`. */
  path: string;
  /** The last part of the path: the key inside its object. */
  key: string;
  description: string;
  meta: RunFieldMeta;
  kind: FieldKind;
  /** Allowed values of an enum (for `schedule`: the schedule kinds). */
  choices?: readonly string[];
  /** Integers: whether 0 is allowed (`statsEvery`) or only positive values (`epochs`). */
  allowsZero?: boolean;
  /** What the schema fills in when nothing sets the field; undefined when it has no default. */
  defaultValue?: unknown;
  /** Neither optional nor defaulted: a spec without it is invalid (a preset may set it). */
  required: boolean;
  /** For schedule parameters: the schedule kind they belong to. */
  scheduleKind?: string;
  /** The field's own schema, to check one value. */
  schema: z.ZodType;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  return inner;
}

function kindOf(inner: z.ZodType): Pick<RunFieldInfo, 'kind' | 'choices' | 'allowsZero'> {
  if (inner instanceof z.ZodNumber) {
    const integer = inner.format !== null && inner.format.includes('int');
    return integer ? { kind: 'integer', allowsZero: inner.safeParse(0).success } : { kind: 'number' };
  }
  if (inner instanceof z.ZodBoolean) return { kind: 'boolean' };
  if (inner instanceof z.ZodEnum) return { kind: 'enum', choices: inner.options.map(String) };
  if (inner instanceof z.ZodString) return { kind: 'string' };
  if (inner instanceof z.ZodArray) {
    const element = inner.element as z.ZodType;
    const integer = element instanceof z.ZodNumber && element.format !== null && element.format.includes('int');
    return { kind: integer ? 'integerList' : 'numberList' };
  }
  if (inner === lrScheduleSchema) return { kind: 'schedule', choices: lrScheduleSchema.options.map((o) => o.shape.kind.value) };
  if (inner instanceof z.ZodObject) return { kind: 'object' };
  throw new Error(`run-fields: no field kind for a ${inner.def.type} schema`);
}

function describeField(path: string, schema: z.ZodType, extra: Partial<RunFieldInfo> = {}): RunFieldInfo {
  const meta = runFieldRegistry.get(schema);
  if (!meta) throw new Error(`run-fields: ${path} has no metadata; declare it with field() in run-spec.ts`);
  const key = path.slice(path.lastIndexOf('.') + 1);
  return {
    path, key, meta, schema,
    description: schema.description ?? '',
    ...kindOf(unwrap(schema)),
    defaultValue: schema instanceof z.ZodDefault ? schema.def.defaultValue : undefined,
    required: !(schema instanceof z.ZodOptional || schema instanceof z.ZodDefault),
    ...extra,
  };
}

function shapeFields(prefix: string, shape: Record<string, z.ZodType>): RunFieldInfo[] {
  return Object.entries(shape).map(([key, schema]) => describeField(prefix + key, schema));
}

const TOP = shapeFields('', runSpecSchema.shape);
const DP = shapeFields('dp.', dpOptionsSchema.shape);
const SCHEDULE = lrScheduleSchema.options.flatMap((option) => {
  const kind = option.shape.kind.value;
  return Object.entries(option.shape as Record<string, z.ZodType>)
    .filter(([key]) => key !== 'kind')
    .map(([key, schema]) => describeField(`schedule.${key}`, schema, { scheduleKind: kind }));
});

/** The run spec's top-level fields, in the schema's order. */
export function runFields(): readonly RunFieldInfo[] {
  return TOP;
}

/** The fields of `dp` (DP-SGD options). */
export function dpFields(): readonly RunFieldInfo[] {
  return DP;
}

/** The parameters of every schedule kind, each with its `scheduleKind`. */
export function scheduleFields(): readonly RunFieldInfo[] {
  return SCHEDULE;
}

export function runField(path: string): RunFieldInfo {
  const found = [...TOP, ...DP, ...SCHEDULE].find((f) => f.path === path);
  if (!found) throw new Error(`run-fields: no run field "${path}"`);
  return found;
}

/** Fields that say where or how a run executes or is observed; the config hash and group key leave them out. */
export function executionFieldNames(): string[] {
  return TOP.filter((f) => f.meta.role === 'execution').map((f) => f.key);
}

/** JSON with object keys sorted at every depth and undefined fields dropped, so equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * `value` without the fields (at every depth the schema describes) that equal their schema default. Hashing
 * this instead of the whole config means a field added later with a default changes no existing key: every
 * stored config, parsed again, gets the new field at its default, and that is dropped here.
 */
export function withoutDefaults(value: Record<string, unknown>, schema: z.ZodObject = runSpecSchema): Record<string, unknown> {
  return stripObject(value, schema.shape);
}

function stripObject(value: Record<string, unknown>, shape: Record<string, z.ZodType>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const schema = shape[key];
    if (!schema) {
      out[key] = v;
      continue;
    }
    if (schema instanceof z.ZodDefault && sameValue(v, schema.def.defaultValue)) continue;
    out[key] = stripValue(v, unwrap(schema));
  }
  return out;
}

function stripValue(value: unknown, inner: z.ZodType): unknown {
  if (!isPlainObject(value)) return value;
  if (inner instanceof z.ZodObject) return stripObject(value, inner.shape);
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const option = (inner.options as z.ZodObject[]).find((o) => {
      const literal = (o.shape as Record<string, z.ZodType>)[inner.def.discriminator];
      return literal instanceof z.ZodLiteral && literal.values.has(value[inner.def.discriminator] as never);
    });
    return option ? stripObject(value, option.shape) : value;
  }
  return value;
}

/** What decides whether a field applies to a run: its data set, model (from the registry, when known) and DP. */
export interface RunContext {
  dataset?: string;
  /** Unknown model: conditions on the model are taken as met (a view shows the field rather than guess). */
  model?: { norm: string; family: string };
  dp: boolean;
  /** Unknown (undefined): conditions on the optimizer or the EMA are taken as met. */
  optimizer?: string;
  modelEma?: boolean;
}

export function fieldApplies(scope: FieldScope | undefined, run: RunContext): boolean {
  if (!scope) return true;
  const { dataset, model } = run;
  if (scope.datasets && dataset !== undefined && !scope.datasets.some((d) => d === dataset)) return false;
  if (scope.exceptDatasets && dataset !== undefined && scope.exceptDatasets.some((d) => d === dataset)) return false;
  if (scope.dp && !run.dp) return false;
  if (scope.optimizers && run.optimizer !== undefined && !scope.optimizers.some((o) => o === run.optimizer)) return false;
  if (scope.modelEma && run.modelEma === false) return false;
  if (model) {
    if (scope.norms && !scope.norms.some((n) => n === model.norm)) return false;
    if (scope.exceptFamilies?.some((f) => f === model.family)) return false;
    if (scope.dpCapable && model.norm === 'bn') return false;
  }
  return true;
}

/** "GroupNorm models only", "synthetic only": the scope in words, for help texts and tooltips. */
export function describeScope(scope: FieldScope | undefined): string | null {
  if (!scope) return null;
  const parts: string[] = [];
  const normNames: Record<NormKind, string> = { kn: 'KernelNorm', bn: 'BatchNorm', gn: 'GroupNorm', ln: 'LayerNorm', nn: 'no-norm' };
  if (scope.norms) parts.push(`${scope.norms.map((n) => normNames[n]).join('/')} models only`);
  if (scope.exceptFamilies) parts.push(`not for ${scope.exceptFamilies.join('/')}`);
  if (scope.datasets) parts.push(`${scope.datasets.join('/')} only`);
  if (scope.exceptDatasets) parts.push(`not for ${scope.exceptDatasets.join('/')}`);
  if (scope.dpCapable) parts.push('not for BatchNorm models');
  if (scope.optimizers) parts.push(`${scope.optimizers.join('/')} only`);
  if (scope.modelEma) parts.push('with --model-ema only');
  return parts.length ? parts.join('; ') : null;
}

export interface ConfigRow {
  path: string;
  label: string;
  description: string;
  role: RunFieldMeta['role'];
  /** The spec's value; undefined when the spec leaves it to the worker (e.g. `lowResolution` from the image size). */
  value: unknown;
  /** The value is the schema's default. */
  isDefault: boolean;
  /** What an unset value means (meta `whenUnset`). */
  whenUnset?: string;
}

/**
 * The rows a run's config view shows: every field that applies to the run (no `groups` on a KernelNorm run, no
 * `dataDir` on the synthetic set), the DP options when it trains with DP-SGD, and only the parameters of its
 * schedule kind. Experiment fields first, then execution fields, each in the schema's order.
 */
export function applicableFields(spec: Record<string, unknown>, model?: RunContext['model']): ConfigRow[] {
  const run: RunContext = {
    dataset: typeof spec.dataset === 'string' ? spec.dataset : undefined, model, dp: isPlainObject(spec.dp),
    // the schema's defaults when the spec leaves them out (sgd, no EMA)
    optimizer: typeof spec.optimizer === 'string' ? spec.optimizer : 'sgd', modelEma: spec.modelEma === true,
  };
  const row = (f: RunFieldInfo, value: unknown): ConfigRow => ({
    path: f.path, label: f.meta.label, description: f.description, role: f.meta.role, value,
    isDefault: f.defaultValue !== undefined && sameValue(value, f.defaultValue), whenUnset: f.meta.whenUnset,
  });
  const rows: ConfigRow[] = [];
  for (const f of TOP) {
    if (!fieldApplies(f.meta.scope, run)) continue;
    const value = spec[f.key];
    if (f.kind === 'object') {
      if (!isPlainObject(value)) continue;
      for (const sub of DP) if (value[sub.key] !== undefined) rows.push(row(sub, value[sub.key]));
      continue;
    }
    if (f.kind === 'schedule' && isPlainObject(value)) {
      rows.push({ ...row(f, value.kind), isDefault: sameValue(value, f.defaultValue) });
      for (const sub of SCHEDULE) if (sub.scheduleKind === value.kind) rows.push(row(sub, value[sub.key]));
      continue;
    }
    if (f.key === 'runId' && value === undefined) continue;
    rows.push(row(f, value));
  }
  return [...rows.filter((r) => r.role === 'experiment'), ...rows.filter((r) => r.role === 'execution')];
}
