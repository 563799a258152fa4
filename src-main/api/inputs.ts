import { z } from 'zod';
import { renderPath } from '../sweeps/spec';
import { RUN_STATUSES } from '../store/types';
import type { AggregateFilter, RunFilter, RunStatus } from '../store/types';
import { EXPORT_KINDS, type ExportFilter, type ExportKind } from '../export/csv';
import { ServiceError } from './errors';

/**
 * Schemas for what callers send: the service is reached over IPC and HTTP, so every argument is checked here
 * once, and the store only ever sees typed values.
 */
const id = z.number().int().positive();
const status = z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]);
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item)]);

export const runFilterSchema = z.strictObject({
  sweepId: id.optional(),
  status: oneOrMany(status).optional(),
  groupKey: oneOrMany(z.string().min(1)).optional(),
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  ids: z.array(id).max(10_000).optional(),
  limit: z.number().int().min(0).optional(),
  offset: z.number().int().min(0).optional(),
});

export const aggregateFilterSchema = z.strictObject({
  sweepId: id.optional(),
  groupKey: oneOrMany(z.string().min(1)).optional(),
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
});

export const exportFilterSchema = aggregateFilterSchema.extend({ status: oneOrMany(status).optional() });

export const logQuerySchema = z.strictObject({
  afterId: z.number().int().min(0).optional(),
  limit: z.number().int().positive().optional(),
});

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${what}${i.path.length ? `.${renderPath(i.path)}` : ''}: ${i.message}`);
  throw new ServiceError('invalid_input', `invalid ${what}:\n  ${problems.join('\n  ')}`, problems);
}

export const parseId = (value: unknown, what = 'id'): number => check(id, value, what);
export const parseRunFilter = (value: unknown): RunFilter => check(runFilterSchema, value ?? {}, 'filter');
export const parseAggregateFilter = (value: unknown): AggregateFilter => check(aggregateFilterSchema, value ?? {}, 'filter');
export const parseExportFilter = (value: unknown): ExportFilter => check(exportFilterSchema, value ?? {}, 'filter');
export const parseLogQuery = (value: unknown) => check(logQuerySchema, value ?? {}, 'options');
export const parseExportKind = (value: unknown): ExportKind => check(z.enum(EXPORT_KINDS), value, 'what');
export const parseGroupKeys = (value: unknown): string[] => check(z.array(z.string().min(1)).max(1000), value, 'groupKeys');
export const parseName = (value: unknown, what: string): string => check(z.string().min(1).max(500), value, what);
export const parseOptionalName = (value: unknown, what: string): string | undefined =>
  value === undefined ? undefined : parseName(value, what);
