export { parseSweepSpec, sweepSpecSchema, lrSearchSchema, renderPath, SweepSpecError } from './spec';
export type { SweepSpec, SweepSpecInput, LrSearchSettings } from './spec';
export { expandSweep, gridPoints, sweepSeeds, type Expansion } from './expand';
export { proposeLrTrials, lrLadder, type LrTrial, type LrProposal, type LrSearchDecision } from './lr-search';
export { refuseDpIncompatibleModels } from './dp-models';
