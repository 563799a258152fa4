import { createHash } from 'node:crypto';
import { canonicalJson, executionFieldNames } from './run-fields';
import type { RunSpec } from './run-spec';

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
 * What differs between a saved run config (or spec) and `spec`, as `field: <label> A, spec B; …`; null when the
 * hashes agree. For errors that say what changed rather than just that something did.
 */
export function describeConfigChange(saved: Record<string, unknown>, spec: RunSpec, label: string): string | null {
  const before = runConfig(saved as RunSpec);
  const after = runConfig(spec);
  if (canonicalJson(before) === canonicalJson(after)) return null;
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const show = (v: unknown) => canonicalJson(v) ?? 'unset';
  const fields = keys.filter((k) => canonicalJson(before[k]) !== canonicalJson(after[k]));
  return fields.map((k) => `${k}: ${label} ${show(before[k])}, spec ${show(after[k])}`).join('; ');
}
