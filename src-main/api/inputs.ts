import type { z } from 'zod';
import type { ExportFilter, ExportKind } from '../export/csv';
import type { AggregateFilter, RunFilter } from '../store/types';
import { ServiceError } from './errors';
import {
  aggregateFilterSchema, countFilterSchema, doctorOptionsSchema, exportFilterSchema, exportKindSchema, groupKeysSchema, idSchema,
  logQuerySchema, nameSchema, retryChangesSchema, runFilterSchema,
} from './schemas';
import { zodProblems } from './zod-problems';

/**
 * The service's checks of what callers send (they may be a renderer or a remote client): each argument is
 * parsed here, once, with its schema from schemas.ts, and the store only ever sees typed values. A failure is an
 * `invalid_input` ServiceError listing every problem, each prefixed with the argument's name.
 */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error, what);
  throw new ServiceError('invalid_input', `invalid ${what}:\n  ${problems.join('\n  ')}`, problems);
}

export const parseId = (value: unknown, what = 'id'): number => check(idSchema, value, what);
export const parseRunFilter = (value: unknown): RunFilter => check(runFilterSchema, value ?? {}, 'filter');
export const parseCountFilter = (value: unknown): RunFilter => check(countFilterSchema, value ?? {}, 'filter');
export const parseAggregateFilter = (value: unknown): AggregateFilter => check(aggregateFilterSchema, value ?? {}, 'filter');
export const parseExportFilter = (value: unknown): ExportFilter => check(exportFilterSchema, value ?? {}, 'filter');
export const parseLogQuery = (value: unknown) => check(logQuerySchema, value ?? {}, 'options');
export const parseExportKind = (value: unknown): ExportKind => check(exportKindSchema, value, 'what');
export const parseGroupKeys = (value: unknown): string[] => check(groupKeysSchema, value, 'groupKeys');
export const parseName = (value: unknown, what: string): string => check(nameSchema, value, what);
export const parseOptionalName = (value: unknown, what: string): string | undefined =>
  value === undefined ? undefined : parseName(value, what);
export const parseDoctorOptions = (value: unknown) => check(doctorOptionsSchema, value ?? {}, 'options');
export const parseRetryChanges = (value: unknown) => check(retryChangesSchema, value ?? {}, 'changes');
