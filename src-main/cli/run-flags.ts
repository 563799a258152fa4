import { Option } from 'commander';
import { describeScope, dpFields, runFields, scheduleFields, type RunFieldInfo } from '../../src-worker/run-fields';
import type { CliFlag } from '../../src-worker/run-field-meta';
import { finiteNumber, intList, nonNegativeInt, numberList, positiveInt } from './option-parsers';

/**
 * `normlab train`'s run flags, derived from the run spec's schema: one flag per field that has `cli` metadata,
 * its value parsed by the field's type, its help text the field's description with its default, whether the run
 * needs it and which runs it applies to. Commander stores each value under the field's key (`--kn-dropout` →
 * knDropout, `--no-augment` → augment), so reading them back is by field too (runInputFromFlags).
 */

const GROUPS = { experiment: 'Run options:', dp: 'DP-SGD options:', execution: 'Execution options:' } as const;

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function flagName(field: RunFieldInfo, cli: CliFlag): string {
  return cli.name ?? kebab(field.key);
}

function valueName(field: RunFieldInfo, cli: CliFlag): string {
  if (cli.value) return cli.value;
  if (field.kind === 'integer') return '<n>';
  if (field.kind === 'integerList' || field.kind === 'numberList') return '<list>';
  if (field.kind === 'number') return '<x>';
  return '<name>';
}

function showDefault(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  if (value !== null && typeof value === 'object' && 'kind' in value) return String(value.kind);
  return String(value);
}

/** The description with what the schema knows besides it: the default, whether it is needed, where it applies. */
export function helpText(field: RunFieldInfo): string {
  const notes: string[] = [];
  if (field.defaultValue !== undefined) notes.push(`default: ${showDefault(field.defaultValue)}`);
  if (field.required) notes.push(field.path.startsWith('dp.') ? 'required with --dp unless --preset sets it' : 'required unless --preset sets it');
  const scope = describeScope(field.meta.scope);
  if (scope) notes.push(scope);
  return notes.length ? `${field.description} (${notes.join('; ')})` : field.description;
}

function groupOf(field: RunFieldInfo): string {
  if (field.path.startsWith('dp')) return GROUPS.dp;
  if (field.meta.cli && field.meta.cli.helpGroup === 'run') return GROUPS.experiment;
  return field.meta.role === 'execution' ? GROUPS.execution : GROUPS.experiment;
}

function optionsFor(field: RunFieldInfo): Option[] {
  const cli = field.meta.cli;
  if (!cli) return [];
  const name = flagName(field, cli);
  const group = groupOf(field);
  const described = (option: Option) => option.helpGroup(group);
  if (field.kind === 'boolean' || field.kind === 'object') {
    const negatable = cli.negatable ?? 'positive';
    const options: Option[] = [];
    if (negatable !== 'negative') options.push(described(new Option(`--${name}`, helpText(field))));
    if (negatable !== 'positive') options.push(described(new Option(`--no-${name}`, cli.negatedDescription ?? `not: ${field.description}`)));
    return options;
  }
  const option = described(new Option(`--${name} ${valueName(field, cli)}`, helpText(field)));
  if (field.choices) option.choices(field.choices);
  else if (field.kind === 'integer') option.argParser(field.allowsZero ? nonNegativeInt : positiveInt);
  else if (field.kind === 'number') option.argParser(finiteNumber);
  else if (field.kind === 'integerList') option.argParser(intList);
  else if (field.kind === 'numberList') option.argParser(numberList);
  return [option];
}

/** Every run flag, in the schema's order: the schedule's parameters after --schedule, DP's options after --dp. */
export function runFlagOptions(): Option[] {
  return runFields().flatMap((field) => {
    const own = optionsFor(field);
    if (field.kind === 'schedule') return [...own, ...uniqueScheduleParams().flatMap(optionsFor)];
    if (field.kind === 'object') return [...own, ...dpFields().flatMap(optionsFor)];
    return own;
  });
}

/** Schedule parameters by key: one flag each, even if two schedule kinds shared a parameter name. */
function uniqueScheduleParams(): RunFieldInfo[] {
  const seen = new Set<string>();
  return scheduleFields().filter((f) => !seen.has(f.key) && seen.add(f.key));
}

/** The flag a field is given with (`--batch-size`), for messages; null for a field without one. */
export function flagOf(path: string): string | null {
  const field = [...runFields(), ...dpFields(), ...scheduleFields()].find((f) => f.path === path);
  return field?.meta.cli ? `--${flagName(field, field.meta.cli)}` : null;
}

export interface FlagValues {
  /** Top-level run fields set by their flags (schedule and dp excluded). */
  fields: Record<string, unknown>;
  /** `--schedule` and the schedule parameters given, or null when no schedule was asked for. */
  schedule: { kind: string; params: Record<string, unknown> } | null;
  /** Whether `--dp` was given, and the DP options given (with or without it). */
  dp: { on: boolean; given: Record<string, unknown> };
}

/** Sorts commander's option values back into run fields. */
export function runInputFromFlags(options: Record<string, unknown>): FlagValues {
  const fields: Record<string, unknown> = {};
  let schedule: FlagValues['schedule'] = null;
  let dpOn = false;
  for (const field of runFields()) {
    if (!field.meta.cli) continue;
    const value = options[field.key];
    if (field.kind === 'schedule') {
      if (typeof value !== 'string') continue;
      const params: Record<string, unknown> = {};
      for (const p of scheduleFields()) if (p.scheduleKind === value && options[p.key] !== undefined) params[p.key] = options[p.key];
      schedule = { kind: value, params };
    } else if (field.kind === 'object') {
      dpOn = value === true;
    } else if (value !== undefined) {
      fields[field.key] = value;
    }
  }
  const given = Object.fromEntries(dpFields().flatMap((f) => (options[f.key] === undefined ? [] : [[f.key, options[f.key]]])));
  return { fields, schedule, dp: { on: dpOn, given } };
}
