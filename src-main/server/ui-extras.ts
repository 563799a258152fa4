/**
 * What used to be the UI's extras at the edge now lives in the service (src-main/api). These names stay for
 * the modules that still import them from here.
 */
export type { NormLabApi as AppApi } from '../api/service';
export type { DatasetSummary, ModelSummary, QueueState, ScheduledBy, SweepPreview } from '../api/types';
