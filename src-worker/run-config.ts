import { createHash } from 'node:crypto';
import { canonicalJson, executionFieldNames, withoutDefaults } from './run-fields';
import { runSpecSchema, type RunSpec } from './run-spec';

/**
 * Fields that say where or how a run is executed or observed, not what is being measured (role `execution` in the
 * run spec's metadata). Two specs that differ only in these describe the same run: the config-group key and a
 * checkpoint's config hash both leave them out.
 */
export const EXECUTION_FIELDS: readonly (keyof RunSpec)[] = executionFieldNames() as (keyof RunSpec)[];

export { canonicalJson };

/** The spec without execution-only fields: everything that decides what the run computes, seed included. */
export function runConfig(spec: RunSpec): Record<string, unknown> {
  const config: Record<string, unknown> = { ...spec };
  for (const field of EXECUTION_FIELDS) delete config[field];
  return config;
}

/** SHA-256 of the run's canonical config; a checkpoint carries it, and resuming under another hash is refused. */
export function runConfigHash(spec: RunSpec): string {
  return createHash('sha256').update(canonicalJson(runConfig(spec))).digest('hex');
}

/**
 * A saved config (a checkpoint's spec, a journal's config) as the current schema reads it, without execution
 * fields or default values: a field added since it was written (at a default that keeps the old behaviour)
 * then makes no difference. The saved value as it is when the current schema refuses it.
 */
function comparable(saved: Record<string, unknown>): Record<string, unknown> {
  const parsed = runSpecSchema.safeParse(saved);
  return withoutDefaults(runConfig(parsed.success ? parsed.data : (saved as RunSpec)));
}

/**
 * Whether `saved` describes the run `spec` computes, allowing for fields added later with defaults. Written for
 * resumes of checkpoints and journals made before a field existed: their stored hash covers the old field set.
 */
export function sameRunConfig(saved: Record<string, unknown>, spec: RunSpec): boolean {
  return canonicalJson(comparable(saved)) === canonicalJson(comparable(spec));
}

/**
 * What differs between a saved run config (or spec) and `spec`, as `field: <label> A, spec B; …`; null when they
 * describe the same run. For errors that say what changed rather than just that something did.
 */
export function describeConfigChange(saved: Record<string, unknown>, spec: RunSpec, label: string): string | null {
  const before = comparable(saved);
  const after = comparable(spec);
  if (canonicalJson(before) === canonicalJson(after)) return null;
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const show = (v: unknown) => canonicalJson(v) ?? 'default';
  const fields = keys.filter((k) => canonicalJson(before[k]) !== canonicalJson(after[k]));
  return fields.map((k) => `${k}: ${label} ${show(before[k])}, spec ${show(after[k])}`).join('; ');
}
