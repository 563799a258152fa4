export { parseSweepSpec, sweepSpecSchema, lrSearchSchema, renderPath, fieldPathOf, SweepSpecError } from './spec';
export type { SweepSpec, SweepSpecInput, LrSearchSettings } from './spec';
export { expandSweep, gridPoints, sweepPoints, sweepSeeds, type Expansion, type SweepPoint } from './expand';
export { proposeLrTrials, lrLadder, type LrTrial, type LrProposal, type LrSearchDecision } from './lr-search';
export { refuseDpIncompatibleModels } from './dp-models';
