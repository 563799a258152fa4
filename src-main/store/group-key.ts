import { createHash } from 'node:crypto';
import { canonicalJson, EXECUTION_FIELDS, runConfig } from '../../src-worker/run-config';
import { withoutDefaults } from '../../src-worker/run-fields';
import type { z } from 'zod';
import { runSpecSchema, type RunSpec } from '../../src-worker/run-spec';

/** Execution-only fields (role `execution` in the run spec's metadata): left out of the config-group key. */
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
 * The text a key hashes: the group config without the fields that equal their schema default. A field added
 * later with a default therefore changes no key, and neither does writing a default out or leaving it implicit.
 */
export function groupKeyText(config: Record<string, unknown>, schema: z.ZodObject = runSpecSchema): string {
  return canonicalJson(withoutDefaults(config, schema));
}

/**
 * The key of a group config (`config_groups.config_json`, or `groupConfig(spec)`); `schema` is the run spec schema
 * the config follows (a test passes a schema with an added field).
 */
export function groupKeyOfConfig(config: Record<string, unknown>, schema: z.ZodObject = runSpecSchema): string {
  return shortHash(groupKeyText(config, schema));
}

/** Config-group key: the same for every seed of one experiment. */
export function configGroupKey(spec: RunSpec): string {
  return groupKeyOfConfig(groupConfig(spec));
}

/** Identity of one run within a sweep: its group plus its seed. Re-submitting a spec finds the same keys. */
export function runKey(spec: RunSpec): string {
  return `${configGroupKey(spec)}:${spec.seed}`;
}

/** Key of a learning-rate search family: the group without lr, whose members differ only in lr and seed. */
export function searchFamilyKey(spec: RunSpec): string {
  return shortHash(groupKeyText(groupConfig(spec, ['lr'])));
}

