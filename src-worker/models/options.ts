import type { ModelOptions } from './types';

export interface ResolvedModelOptions {
  numClasses: number;
  lowResolution: boolean;
  knDropout: number;
  groups: number;
  widthMultiplier: number;
  activation: 'relu' | 'mish';
  seed: number;
}

function fail(caller: string, message: string): never {
  throw new Error(`${caller}: ${message}`);
}

function isPositiveInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Fills defaults and rejects values PyTorch would reject (or that make no sense), naming the option.
 * `caller` prefixes error messages, e.g. "createModel(resnet18_bn)".
 */
export function resolveModelOptions(caller: string, opts: ModelOptions): ResolvedModelOptions {
  if (opts === null || typeof opts !== 'object') fail(caller, `options must be an object, got ${String(opts)}`);
  const { numClasses, lowResolution } = opts;
  const knDropout = opts.knDropout ?? 0.05;
  const groups = opts.groups ?? 32;
  const widthMultiplier = opts.widthMultiplier ?? 1;
  const activation = opts.activation ?? 'relu';
  if (!isPositiveInteger(numClasses)) fail(caller, `numClasses must be a positive integer, got ${String(numClasses)}`);
  if (typeof lowResolution !== 'boolean') fail(caller, `lowResolution must be a boolean, got ${String(lowResolution)}`);
  if (typeof knDropout !== 'number' || !(knDropout >= 0 && knDropout < 1)) {
    fail(caller, `knDropout must be in [0, 1), got ${String(knDropout)}`);
  }
  if (!isPositiveInteger(groups)) fail(caller, `groups must be a positive integer, got ${String(groups)}`);
  if (typeof widthMultiplier !== 'number' || !Number.isFinite(widthMultiplier) || widthMultiplier <= 0) {
    fail(caller, `widthMultiplier must be a positive finite number, got ${String(widthMultiplier)}`);
  }
  if (activation !== 'relu' && activation !== 'mish') {
    fail(caller, `activation must be 'relu' or 'mish', got ${String(activation)}`);
  }
  let seed: number;
  if (opts.seed === undefined) {
    seed = Math.floor(Math.random() * 2 ** 31);
  } else if (typeof opts.seed === 'number' && Number.isSafeInteger(opts.seed)) {
    seed = opts.seed;
  } else {
    fail(caller, `seed must be an integer, got ${String(opts.seed)}`);
  }
  return { numClasses, lowResolution, knDropout, groups, widthMultiplier, activation, seed };
}

/**
 * Width rule: every channel count the reference hard-codes is scaled independently as
 * max(1, round(width × multiplier)). Because equal reference widths map to equal scaled widths, residual
 * additions still line up, and all normalisation variants of one architecture get identical conv shapes.
 */
export function scaleWidth(width: number, multiplier: number): number {
  return Math.max(1, Math.round(width * multiplier));
}

/**
 * GroupNorm rule: widths are not rounded up for GroupNorm (that would make GN models wider than their
 * BN/KN counterparts); instead a layer whose channel count the requested group count does not divide
 * uses the largest divisor of its channels below the requested count (e.g. 8 channels, 32 groups → 8).
 * At full width with 32 groups every reference layer is divisible, so nothing changes there.
 */
export function groupsFor(channels: number, requested: number): number {
  for (let g = Math.min(requested, channels); g > 1; g--) {
    if (channels % g === 0) return g;
  }
  return 1;
}
