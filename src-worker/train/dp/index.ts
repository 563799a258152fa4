export { erfc, logErfc } from './log-math';
export {
  DEFAULT_RDP_ORDERS, RdpAccountant, composedRdp, epsilonFor, rdpToEpsilon, sampledGaussianRdp,
  type PrivacySpent, type RdpConversion,
} from './rdp-accountant';
export { calibrateNoiseMultiplier, type Calibration, type CalibrationRequest } from './calibration';
export { poissonSample } from './poisson';
export {
  DpIncompatibleModelError, assertDpCompatible, crossEntropySum, perSampleGradNorms, perSampleGradients, tappedBackward,
  type DpModel,
} from './per-sample-grads';
export type { KnMomentsProvider, LayerSampleGrads } from './layer-grads';
export {
  ClippedGradientSum, createDpSgdStep, privatize,
  type DpBatch, type DpBatchSource, type DpSgdOptions, type DpSgdStepper, type DpStepResult,
} from './dp-sgd';
export { dpPlan, epsilonAfter, type DpPlan } from './plan';
export { dpPaperRecipe, type DpRecipe } from '../presets';
