import { InvalidTransitionError, RunNotFoundError, StoreError, StoreOpenError } from '../store/errors';
import { SweepSpecError } from '../sweeps/spec';

export type ServiceErrorCode = 'not_found' | 'invalid_input' | 'conflict' | 'unavailable' | 'storage';

/**
 * The one error type the service throws. `code` maps onto HTTP statuses (404, 400, 409, 503, 500) and survives
 * IPC, where only an error's message and plain fields cross; `problems` lists every issue of an invalid input.
 */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }

  toJSON(): { code: ServiceErrorCode; message: string; problems: string[] } {
    return { code: this.code, message: this.message, problems: this.problems };
  }
}

export function toServiceError(error: unknown): unknown {
  if (error instanceof ServiceError) return error;
  if (error instanceof SweepSpecError) return new ServiceError('invalid_input', error.message, error.problems);
  if (error instanceof RunNotFoundError) return new ServiceError('not_found', error.message);
  if (error instanceof InvalidTransitionError) return new ServiceError('conflict', error.message);
  if (error instanceof StoreOpenError) return new ServiceError('storage', error.message);
  if (error instanceof StoreError) return new ServiceError('invalid_input', error.message);
  return error;
}
