import { z } from 'zod';
import type { ExportKind } from '../export/csv';
import { RUN_STATUSES, type RunStatus } from '../store/run-states';
import { runSpecSchema } from '../../src-worker/run-spec';

/**
 * The schemas of what callers send, one per kind of argument. Each service method's parameter type is the
 * schema's `z.input`, and the service parses with the same schema, so the type a caller sees and the check it
 * gets cannot drift apart. Pure (zod and types): the renderer bundles it through the routes.
 */
export const idSchema = z.number().int().positive();
const status = z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]);
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item)]);

export const runFilterSchema = z.strictObject({
  sweepId: idSchema.optional(),
  status: oneOrMany(status).optional(),
  groupKey: oneOrMany(z.string().min(1)).optional(),
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  ids: z.array(idSchema).max(10_000).optional(),
  limit: z.number().int().min(0).optional(),
  offset: z.number().int().min(0).optional(),
});
/** A count has no page. */
export const countFilterSchema = runFilterSchema.omit({ limit: true, offset: true });

export const aggregateFilterSchema = z.strictObject({
  sweepId: idSchema.optional(),
  groupKey: oneOrMany(z.string().min(1)).optional(),
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
});

export const exportFilterSchema = aggregateFilterSchema.extend({ status: oneOrMany(status).optional() });

const EXPORT_KIND_LIST = ['runs', 'aggregates', 'metrics'] as const satisfies readonly ExportKind[];
export const exportKindSchema = z.enum(EXPORT_KIND_LIST);

export const logQuerySchema = z.strictObject({
  afterId: z.number().int().min(0).optional(),
  limit: z.number().int().positive().optional(),
});

export const groupKeysSchema = z.array(z.string().min(1)).max(1000);
export const nameSchema = z.string().min(1).max(500);
/** A sweep spec is checked in depth by parseSweepSpec (with every problem's path); here only its shape. */
export const sweepSpecInputSchema = z.record(z.string(), z.unknown());
export const doctorOptionsSchema = z.strictObject({ bench: z.boolean().optional() });

/**
 * What "clone and edit" may change of a run, each held to the run spec's own rule for the field. Absent fields
 * keep the run's values; no field at all is a plain retry.
 */
export const retryChangesSchema = z.strictObject({
  lr: runSpecSchema.shape.lr.optional(),
  epochs: runSpecSchema.shape.epochs.optional(),
  seed: runSpecSchema.shape.seed.unwrap().optional(),
});
export const RETRY_FIELDS = ['lr', 'epochs', 'seed'] as const satisfies readonly (keyof z.output<typeof retryChangesSchema>)[];

export type RunFilterInput = z.input<typeof runFilterSchema>;
export type CountFilterInput = z.input<typeof countFilterSchema>;
export type AggregateFilterInput = z.input<typeof aggregateFilterSchema>;
export type ExportFilterInput = z.input<typeof exportFilterSchema>;
export type ExportKindInput = z.input<typeof exportKindSchema>;
export type LogQueryInput = z.input<typeof logQuerySchema>;
export type SweepSpecArg = z.input<typeof sweepSpecInputSchema>;
export type DoctorOptionsInput = z.input<typeof doctorOptionsSchema>;
export type RetryChanges = z.input<typeof retryChangesSchema>;
