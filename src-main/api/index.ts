export { NormLabService, type NormLabServiceOptions } from './service';
export type { NormLabApi } from './service';
export type * from './types';
export type * from './schemas';
export type { RunController, DeviceInfo } from './run-controller';
export { ServiceError, errorCodeOf, exitCodeOf, httpStatusOf, toServiceError, type ErrorCode, type ServiceErrorCode } from './errors';
