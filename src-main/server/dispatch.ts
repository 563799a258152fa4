import type { z } from 'zod';
import { ServiceError, type ServiceErrorCode } from '../api/errors';
import { ReadOnlyError } from './app-api';
import { apiRoutes, type ApiMethod, type RouteDef } from './routes';
import type { AppApi } from './ui-extras';

/** The error body every transport returns: the service's code and problems, or `internal`. */
export interface ApiErrorBody {
  /** `forbidden`: a foreign Host or Origin; `read_only`: a write to a server opened read-only. */
  code: ServiceErrorCode | 'unauthorized' | 'forbidden' | 'read_only' | 'not_found' | 'internal' | 'invalid_input';
  message: string;
  problems: string[];
}

export const HTTP_STATUS: Record<ApiErrorBody['code'], number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  read_only: 405,
  conflict: 409,
  storage: 500,
  internal: 500,
  unavailable: 503,
};

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(apiRoutes, name);
}

/** Validates `input` against the route's edge schema, then calls the service method. */
export async function dispatch(api: AppApi, method: ApiMethod, input: unknown): Promise<unknown> {
  const def = apiRoutes[method] as unknown as RouteDef<ApiMethod, z.ZodType>;
  const parsed = def.input.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(request)'}: ${i.message}`);
    throw new ServiceError('invalid_input', `invalid request for ${method}:\n  ${problems.join('\n  ')}`, problems);
  }
  const args = def.toArgs(parsed.data) as unknown[];
  const fn = api[method] as (...a: unknown[]) => Promise<unknown>;
  return fn.apply(api, args);
}

/** Calls the service directly with positional arguments (Electron IPC), after checking the method name. */
export async function dispatchArgs(api: AppApi, method: unknown, args: unknown): Promise<unknown> {
  if (!isApiMethod(method)) throw new ServiceError('invalid_input', `unknown API method "${String(method)}"`);
  if (!Array.isArray(args)) throw new ServiceError('invalid_input', `arguments of ${method} must be an array`);
  // the same edge validation as HTTP: map the arguments to the route's input and back
  const def = apiRoutes[method] as unknown as RouteDef<ApiMethod, z.ZodType>;
  return dispatch(api, method, stripUndefined((def.fromArgs as (...a: unknown[]) => Record<string, unknown>)(...args)));
}

export function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function toErrorBody(error: unknown): ApiErrorBody {
  if (error instanceof ServiceError) return { code: error.code, message: error.message, problems: error.problems };
  if (error instanceof ReadOnlyError) return { code: 'read_only', message: error.message, problems: [] };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message, problems: [] };
}
