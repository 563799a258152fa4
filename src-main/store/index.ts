export { ExperimentStore, type StoreOptions, type MetricTuple } from './experiment-store';
export { StoreError, StoreOpenError, RunNotFoundError, InvalidTransitionError, IngestError } from './errors';
export { configGroupKey, runKey, searchFamilyKey, groupConfig, canonicalJson, NON_EXPERIMENT_FIELDS } from './group-key';
export { MIGRATIONS } from './migrations';
export * from './types';
