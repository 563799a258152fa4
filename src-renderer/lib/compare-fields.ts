/**
 * Which configuration fields tell the compared groups apart. A comparison is only honest when every field that
 * differs among the groups is visible next to the result, so the compare table makes each varying field a
 * column and part of the series name, and states the fields that are equal everywhere once. The fields and their
 * labels come from the run-field registry (run-fields.ts), so a field added to the schema shows up here unasked.
 */

import { applicableFields, canonicalJson, describeScope, runField, runFields, type RunContext } from '../../src-worker/run-fields';
import { formatSetting } from './format';

export interface FieldGroup {
  groupKey: string;
  config: Readonly<Record<string, unknown>>;
  /** From the model registry; undefined for a model the registry does not know (every field is then shown). */
  model?: RunContext['model'];
  /** Names of the sweeps the group's runs belong to; omitted when the view shows one sweep. */
  sweeps?: readonly string[];
}

export interface VaryingField {
  path: string;
  label: string;
  /** Display text per group key; groups the field does not apply to (GroupNorm groups on a KN model) have none. */
  values: ReadonlyMap<string, string>;
}

export interface ConstantField {
  path: string;
  label: string;
  text: string;
  /** "GroupNorm models only" when it applies to some of the groups only. */
  scope: string | null;
  /** The schema's default in every group: worth stating only where a reader needs the whole recipe. */
  isDefault: boolean;
}

export interface FieldComparison {
  varying: VaryingField[];
  constant: ConstantField[];
}

/**
 * Not compared: the model is the row's identity (its own column and the start of every series name), and the seed
 * is what a group's mean ± SD is taken over.
 */
const NOT_COMPARED = new Set(['model', 'seed']);
export const SWEEP_FIELD = 'sweep';

/** A config value as text for a table cell: numbers in short form, lists with commas, booleans as on/off. */
export function showValue(value: unknown, whenUnset?: string): string {
  if (value === undefined || value === null) return whenUnset ?? 'automatic';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return formatSetting(value);
  if (Array.isArray(value)) return value.map((v) => showValue(v)).join(', ');
  if (typeof value === 'string') return value;
  return canonicalJson(value);
}

/** Order of two cell texts: by number when both are numbers (0.05 before 0.1), else as words with digit runs. */
export function compareText(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a.localeCompare(b, undefined, { numeric: true });
}

interface Cell {
  label: string;
  isDefault: boolean;
  /** Equality is decided on the value itself, not its rounded text. */
  identity: string;
  text: string;
}

function cellsOf(group: FieldGroup): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const row of applicableFields({ ...group.config }, group.model)) {
    if (row.role !== 'experiment' || NOT_COMPARED.has(row.path)) continue;
    // an optional field left unset behaves as the schema says it does when absent (whenUnset): a default too
    cells.set(row.path, { label: row.label, isDefault: row.isDefault || row.value === undefined, identity: canonicalJson(row.value ?? null), text: showValue(row.value, row.whenUnset) });
  }
  // applicableFields lists an object field (DP-SGD) only through its members; on or off is a difference of its own
  for (const f of runFields()) {
    if (f.kind !== 'object' || f.meta.role !== 'experiment') continue;
    const on = group.config[f.key] !== undefined && group.config[f.key] !== null;
    cells.set(f.path, { label: f.meta.label, isDefault: !on, identity: String(on), text: on ? 'on' : 'off' });
  }
  if (group.sweeps) {
    const names = [...group.sweeps].sort();
    cells.set(SWEEP_FIELD, { label: 'Sweep', isDefault: false, identity: names.join('\n'), text: names.join(', ') });
  }
  return cells;
}

function scopeText(path: string): string | null {
  if (path === SWEEP_FIELD) return null;
  try {
    return describeScope(runField(path).meta.scope);
  } catch {
    // a field stored by an older version that the schema no longer has: shown without a scope note
    return null;
  }
}

/**
 * Splits the groups' experiment fields into those that vary (two groups the field applies to hold different
 * values) and those that are the same wherever they apply. Fields keep the schema's order, the sweep last.
 */
export function compareFields(groups: readonly FieldGroup[]): FieldComparison {
  const perGroup = groups.map((g) => ({ key: g.groupKey, cells: cellsOf(g) }));
  const order: string[] = [];
  for (const { cells } of perGroup) for (const path of cells.keys()) if (!order.includes(path)) order.push(path);
  const varying: VaryingField[] = [];
  const constant: ConstantField[] = [];
  for (const path of order) {
    const present = perGroup.flatMap(({ key, cells }) => {
      const cell = cells.get(path);
      return cell ? [{ key, cell }] : [];
    });
    const first = present[0]?.cell;
    if (!first) continue;
    const distinct = new Set(present.map((p) => p.cell.identity));
    if (distinct.size > 1) {
      varying.push({ path, label: first.label, values: new Map(present.map((p) => [p.key, p.cell.text])) });
    } else {
      constant.push({
        path, label: first.label, text: first.text, isDefault: present.every((p) => p.cell.isDefault),
        scope: present.length < perGroup.length ? scopeText(path) : null,
      });
    }
  }
  return { varying, constant };
}

/**
 * "knresnet18 · Batch size 32 · Epochs 2": the model and every varying field, so no two series read the same.
 * Names that would still coincide (groups that differ only in a field not shown) get "#2", "#3".
 */
export function seriesNames(
  rows: readonly { groupKey: string; model: string }[],
  varying: readonly VaryingField[],
): Map<string, string> {
  const names = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const row of rows) {
    const parts = varying.flatMap((f) => {
      const v = f.values.get(row.groupKey);
      return v === undefined ? [] : [`${f.label} ${v}`];
    });
    let name = [row.model, ...parts].join(' · ');
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    if (count > 1) name = `${name} #${count}`;
    names.set(row.groupKey, name);
  }
  return names;
}

/** "Learning rate 0.05 · Epochs 2 · GroupNorm groups 32 (GroupNorm models only)": what holds for every group. */
export function describeConstants(constant: readonly ConstantField[]): string {
  return constant.map((c) => `${c.label} ${c.text}${c.scope ? ` (${c.scope})` : ''}`).join(' · ');
}
