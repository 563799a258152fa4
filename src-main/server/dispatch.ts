import type { z } from 'zod';
import type { NormLabApi } from '../api/service';
import { ServiceError, toServiceError, type ErrorCode } from '../api/errors';
import { zodProblems } from '../api/zod-problems';
import { apiRoutes, type ApiMethod, type RouteDef } from './routes';

/** The error body every transport returns: a code of the one taxonomy (api/errors.ts), the message and problems. */
export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
  problems: string[];
}

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(apiRoutes, name);
}

function routeOf(method: ApiMethod): RouteDef<ApiMethod, z.ZodType> {
  return (apiRoutes as Record<ApiMethod, RouteDef<ApiMethod, z.ZodType>>)[method];
}

/** Validates `input` against the route's edge schema, then calls the service method. */
export async function dispatch(api: NormLabApi, method: ApiMethod, input: unknown): Promise<unknown> {
  const def = routeOf(method);
  const parsed = def.input.safeParse(input);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error);
    throw new ServiceError('invalid_input', `invalid request for ${method}:\n  ${problems.join('\n  ')}`, problems);
  }
  const args: unknown[] = def.toArgs(parsed.data);
  const fn = api[method].bind(api) as (...a: unknown[]) => Promise<unknown>;
  return fn(...args);
}

/** Calls the service directly with positional arguments (Electron IPC), after checking the method name. */
export async function dispatchArgs(api: NormLabApi, method: unknown, args: unknown): Promise<unknown> {
  if (!isApiMethod(method)) throw new ServiceError('invalid_input', `unknown API method "${String(method)}"`);
  if (!Array.isArray(args)) throw new ServiceError('invalid_input', `arguments of ${method} must be an array`);
  // the same edge validation as HTTP: map the arguments to the route's input and back
  const fromArgs = routeOf(method).fromArgs as (...a: unknown[]) => Record<string, unknown>;
  const positional: unknown[] = args;
  return dispatch(api, method, stripUndefined(fromArgs(...positional)));
}

export function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Any thrown value as the body a transport sends, classified once by the taxonomy. */
export function toErrorBody(error: unknown): ApiErrorBody {
  return toServiceError(error).toJSON();
}
