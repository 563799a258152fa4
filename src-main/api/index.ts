export { NormLabService } from './service';
export type { NormLabApi, SubmitSweepResult, AdvanceLrSearchResult, LrSearchFamilyState, RunDetail, ExportResult } from './service';
export type { RunController, DeviceInfo } from './run-controller';
export { ServiceError, type ServiceErrorCode } from './errors';
