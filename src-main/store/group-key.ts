import { createHash } from 'node:crypto';
import type { RunSpec } from '../../src-worker/run-spec';

/**
 * Fields that say where or how a run is executed or observed, not what is being measured. Two runs that differ
 * only in these belong to the same experiment, so they are left out of the config-group key. The seed is left out
 * too: runs that differ only by seed are the repeats that mean ± SD is taken over.
 */
export const NON_EXPERIMENT_FIELDS = [
  'runId',
  'checkpointDir',
  'resume',
  'backend',
  'checkpointEvery',
  'progressEvery',
  // sampling statistics only reads tensors; it does not change training
  'statsEvery',
  // display-only: the preset's values are already resolved into the other fields
  'preset',
] as const satisfies readonly (keyof RunSpec)[];

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

/** The experiment's configuration: the resolved spec without the seed and without execution-only fields. */
export function groupConfig(spec: RunSpec, alsoWithout: readonly string[] = []): Record<string, unknown> {
  const config: Record<string, unknown> = { ...spec };
  for (const field of NON_EXPERIMENT_FIELDS) delete config[field];
  delete config.seed;
  for (const field of alsoWithout) delete config[field];
  return config;
}

function shortHash(text: string): string {
  // 16 hex digits (64 bits): collisions among the few thousand configs of a study are not a practical concern.
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Config-group key: the same for every seed of one experiment. The spec must be parsed (defaults applied) so an
 * omitted field and its default value give the same key.
 */
export function configGroupKey(spec: RunSpec): string {
  return shortHash(canonicalJson(groupConfig(spec)));
}

/** Identity of one run within a sweep: its group plus its seed. Re-submitting a spec finds the same keys. */
export function runKey(spec: RunSpec): string {
  return `${configGroupKey(spec)}:${spec.seed}`;
}

/** Key of a learning-rate search family: the group without lr, whose members differ only in lr and seed. */
export function searchFamilyKey(spec: RunSpec): string {
  return shortHash(canonicalJson(groupConfig(spec, ['lr'])));
}
