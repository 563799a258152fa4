import { z } from 'zod';
import type { NormLabApi } from '../api/service';
import { RUN_STATUSES, type RunStatus } from '../store/run-states';
import { aggregateFilterSchema, groupKeysSchema, retryChangesSchema, sweepSpecInputSchema } from '../api/schemas';
import { sweepTemplateOptionsSchema } from '../sweeps/templates/types';

/**
 * The method table of the API: every method a client may call, and nothing else. HTTP routes are generated
 * from it (the server turns a request into a service call, the browser client a call into a request), and so
 * is IPC (dispatchArgs maps positional arguments onto the same input and back), so the transports cannot drift
 * apart. Pure: zod and types only, because the renderer bundles it. Each route says how to read its input from
 * the request (path params + query for GET, path params + JSON body for POST), validated here at the edge, and
 * how that input maps onto the service method's arguments. The service validates the arguments once more.
 */
export type ApiMethod = keyof NormLabApi;
export type ApiArgs<K extends ApiMethod> = Parameters<NormLabApi[K]>;
export type ApiResult<K extends ApiMethod> = Awaited<ReturnType<NormLabApi[K]>>;

export interface RouteDef<K extends ApiMethod, S extends z.ZodType = z.ZodType> {
  verb: 'GET' | 'POST';
  /**
   * What the call changes: the queue (sweeps, runs, the scheduler) or files on the server's disk. Absent for a
   * read, even one sent as POST because its input is large (compare, curves, previewSweep). A read-only server
   * refuses the routes that have it, and the queue ones are announced live as `queue_changed`.
   */
  changes?: 'queue' | 'disk';
  /** `:name` segments are path parameters. */
  path: string;
  input: S;
  toArgs: (input: z.output<S>) => ApiArgs<K>;
  fromArgs: (...args: ApiArgs<K>) => Record<string, unknown>;
}

const route =
  <K extends ApiMethod>(_method: K) =>
  <S extends z.ZodType>(def: RouteDef<K, S>): RouteDef<K, S> =>
    def;

const pathId = z.coerce.number().int().positive();
const optionalInt = z.coerce.number().int().min(0).optional();
/** `status=queued,running` in a query string, an array in a body. */
const splitCsv = (v: unknown) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v);
const csvList = z.preprocess(splitCsv, z.array(z.string().min(1)).optional());
const statusList = z.preprocess(splitCsv, z.array(z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]])).optional());
/** `ids=3,5,8` in a query string, an array of numbers in a body. */
const idList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').filter(Boolean).map(Number) : v),
  z.array(z.number().int().positive()).max(10_000).optional(),
);
const oneOrList = <T>(v: T[] | undefined) => (v === undefined ? undefined : v.length === 1 ? v[0] : v);
const empty = z.strictObject({});
const runQuery = z.strictObject({
  sweepId: z.coerce.number().int().positive().optional(),
  status: statusList,
  groupKey: csvList,
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
  ids: idList,
  limit: optionalInt,
  offset: optionalInt,
});
const exportQuery = z.strictObject({
  what: z.string().min(1),
  sweepId: z.coerce.number().int().positive().optional(),
  status: statusList,
  model: z.string().min(1).optional(),
  dataset: z.string().min(1).optional(),
});
type RunQuery = Partial<z.output<typeof runQuery>>;
type FilterArg = { status?: string | readonly string[]; groupKey?: string | readonly string[]; ids?: readonly number[] };

/** A query's lists back into the filter's one-or-many fields. */
function queryToFilter<Q extends RunQuery>({ status, groupKey, ...rest }: Q) {
  return { ...rest, status: oneOrList(status), groupKey: oneOrList(groupKey) };
}
const joined = (v: string | readonly (string | number)[] | undefined) => (Array.isArray(v) ? v.join(',') : (v as string | undefined));
function filterToQuery(filter: FilterArg | undefined): Record<string, unknown> {
  const f = filter ?? {};
  return { ...f, status: joined(f.status), groupKey: joined(f.groupKey), ids: joined(f.ids) };
}

export const apiRoutes = {
  listSweeps: route('listSweeps')({ verb: 'GET', path: '/api/sweeps', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  getSweep: route('getSweep')({
    verb: 'GET', path: '/api/sweeps/:id', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  submitSweep: route('submitSweep')({
    verb: 'POST', changes: 'queue', path: '/api/sweeps', input: z.strictObject({ spec: sweepSpecInputSchema }),
    toArgs: (i) => [i.spec], fromArgs: (spec) => ({ spec }),
  }),
  previewSweep: route('previewSweep')({
    verb: 'POST', path: '/api/sweeps/preview', input: z.strictObject({ spec: sweepSpecInputSchema }),
    toArgs: (i) => [i.spec], fromArgs: (spec) => ({ spec }),
  }),
  advanceLrSearch: route('advanceLrSearch')({
    verb: 'POST', changes: 'queue', path: '/api/sweeps/:id/advance', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  listSweepTemplates: route('listSweepTemplates')({
    verb: 'GET', path: '/api/sweep-templates', input: empty, toArgs: () => [], fromArgs: () => ({}),
  }),
  expandSweepTemplate: route('expandSweepTemplate')({
    verb: 'POST', path: '/api/sweep-templates/:name/expand',
    input: z.strictObject({ name: z.string().min(1), options: sweepTemplateOptionsSchema.optional() }),
    toArgs: (i) => [i.name, i.options], fromArgs: (name, options) => ({ name, options }),
  }),
  submitSweepTemplate: route('submitSweepTemplate')({
    verb: 'POST', changes: 'queue', path: '/api/sweep-templates/:name/submit',
    input: z.strictObject({ name: z.string().min(1), options: sweepTemplateOptionsSchema.optional() }),
    toArgs: (i) => [i.name, i.options], fromArgs: (name, options) => ({ name, options }),
  }),
  listRuns: route('listRuns')({
    verb: 'GET', path: '/api/runs', input: runQuery,
    toArgs: (q) => [queryToFilter(q)], fromArgs: (filter) => filterToQuery(filter),
  }),
  countRuns: route('countRuns')({
    verb: 'GET', path: '/api/runs/count', input: runQuery.omit({ limit: true, offset: true }),
    toArgs: (q) => [queryToFilter(q)], fromArgs: (filter) => filterToQuery(filter),
  }),
  getRun: route('getRun')({
    verb: 'GET', path: '/api/runs/:id', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  getRunMetrics: route('getRunMetrics')({
    verb: 'GET', path: '/api/runs/:id/metrics', input: z.strictObject({ id: pathId, key: z.string().min(1).optional() }),
    toArgs: (i) => [i.id, i.key], fromArgs: (id, key) => ({ id, key }),
  }),
  getRunLogs: route('getRunLogs')({
    verb: 'GET', path: '/api/runs/:id/logs', input: z.strictObject({ id: pathId, afterId: optionalInt, limit: optionalInt }),
    toArgs: (i) => [i.id, { afterId: i.afterId, limit: i.limit }], fromArgs: (id, o) => ({ id, ...o }),
  }),
  getRunCheckpoints: route('getRunCheckpoints')({
    verb: 'GET', path: '/api/runs/:id/checkpoints', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  getSegPreviews: route('getSegPreviews')({
    verb: 'GET', path: '/api/runs/:id/seg-previews', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  getNormStats: route('getNormStats')({
    verb: 'GET', path: '/api/runs/:id/norm-stats', input: z.strictObject({ id: pathId, layer: z.string().min(1).optional() }),
    toArgs: (i) => [i.id, i.layer], fromArgs: (id, layer) => ({ id, layer }),
  }),
  listNormLayers: route('listNormLayers')({
    verb: 'GET', path: '/api/runs/:id/norm-layers', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  cancel: route('cancel')({
    verb: 'POST', changes: 'queue', path: '/api/runs/:id/cancel', input: z.strictObject({ id: pathId }),
    toArgs: (i) => [i.id], fromArgs: (id) => ({ id }),
  }),
  retry: route('retry')({
    // with lr, epochs or seed: "clone and edit", a new run with the edited spec
    verb: 'POST', changes: 'queue', path: '/api/runs/:id/retry', input: retryChangesSchema.extend({ id: pathId }),
    toArgs: ({ id, ...changes }) => [id, changes], fromArgs: (id, changes) => ({ id, ...changes }),
  }),
  compare: route('compare')({
    verb: 'POST', path: '/api/compare',
    input: z.strictObject({ filter: aggregateFilterSchema.optional() }),
    toArgs: (i) => [i.filter], fromArgs: (filter) => ({ filter }),
  }),
  curves: route('curves')({
    verb: 'POST', path: '/api/curves',
    input: z.strictObject({ groupKeys: groupKeysSchema, metric: z.string().min(1) }),
    toArgs: (i) => [i.groupKeys, i.metric], fromArgs: (groupKeys, metric) => ({ groupKeys, metric }),
  }),
  pause: route('pause')({ verb: 'POST', changes: 'queue', path: '/api/queue/pause', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  resume: route('resume')({ verb: 'POST', changes: 'queue', path: '/api/queue/resume', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  queueState: route('queueState')({ verb: 'GET', path: '/api/queue', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  devices: route('devices')({ verb: 'GET', path: '/api/devices', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  doctor: route('doctor')({
    verb: 'GET', path: '/api/doctor',
    // `bench=true` in a query string, a boolean over IPC
    input: z.strictObject({ bench: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean().optional()) }),
    toArgs: (i) => [i.bench === undefined ? {} : { bench: i.bench }], fromArgs: (o) => ({ bench: o?.bench }),
  }),
  listModels: route('listModels')({ verb: 'GET', path: '/api/models', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  listPresets: route('listPresets')({ verb: 'GET', path: '/api/presets', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  listDatasets: route('listDatasets')({ verb: 'GET', path: '/api/datasets', input: empty, toArgs: () => [], fromArgs: () => ({}) }),
  downloadDataset: route('downloadDataset')({
    verb: 'POST', changes: 'disk', path: '/api/datasets/:name/download', input: z.strictObject({ name: z.string().min(1) }),
    toArgs: (i) => [i.name], fromArgs: (name) => ({ name }),
  }),
  // the browser downloads CSV from /api/export/:what.csv (see server.ts); this JSON route returns the text
  exportCsv: route('exportCsv')({
    verb: 'GET', path: '/api/export/:what', input: exportQuery,
    toArgs: ({ what, ...q }) => [what, queryToFilter(q)],
    // a path on the server's disk is not something a remote client may choose
    fromArgs: (what, filter) => ({ what, ...filterToQuery(filter) }),
  }),
} satisfies { [K in ApiMethod]: RouteDef<K, z.ZodType> };

/** Every method of the table, in its order. */
export const API_METHODS = Object.keys(apiRoutes) as ApiMethod[];

/** `/api/runs/:id/logs` + { id: 3, afterId: 7 } → path `/api/runs/3/logs`, rest { afterId: 7 }. */
export function fillPath(path: string, input: Record<string, unknown>): { path: string; rest: Record<string, unknown> } {
  const rest = { ...input };
  const filled = path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = rest[name];
    delete rest[name];
    if (value === undefined || value === null) throw new Error(`missing path parameter "${name}" for ${path}`);
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`path parameter "${name}" for ${path} must be a string or a number`);
    return encodeURIComponent(String(value));
  });
  return { path: filled, rest };
}

/** Matches a request path against a route path; returns the decoded path parameters or null. */
export function matchPath(pattern: string, actual: string): Record<string, string> | null {
  const p = pattern.split('/');
  const a = actual.split('/');
  if (p.length !== a.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) {
      try {
        params[p[i].slice(1)] = decodeURIComponent(a[i]);
      } catch {
        return null;
      }
    } else if (p[i] !== a[i]) return null;
  }
  return params;
}

/** The methods whose route declares that it changes something (see RouteDef.changes). */
export function changingMethods(kind?: NonNullable<RouteDef<ApiMethod>['changes']>): Set<ApiMethod> {
  const defs = apiRoutes as Record<ApiMethod, RouteDef<ApiMethod>>;
  return new Set((Object.keys(defs) as ApiMethod[]).filter((m) => (kind ? defs[m].changes === kind : defs[m].changes !== undefined)));
}
