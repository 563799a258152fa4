import { createHash } from 'node:crypto';
import { canonicalJson, EXECUTION_FIELDS, runConfig } from '../../src-worker/run-config';
import type { RunSpec } from '../../src-worker/run-spec';

/** Execution-only fields (see src-worker/run-config.ts): left out of the config-group key. */
export const NON_EXPERIMENT_FIELDS = EXECUTION_FIELDS;

export { canonicalJson };

/** The experiment's configuration: the resolved spec without the seed and without execution-only fields. */
export function groupConfig(spec: RunSpec, alsoWithout: readonly string[] = []): Record<string, unknown> {
  const config = runConfig(spec);
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
