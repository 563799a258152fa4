import * as tf from '@tensorflow/tfjs';
import { DEFAULT_EPS } from './options';

/** Summary of one distribution (window means, or window standard deviations) for one layer and batch. */
export interface DistributionSummary {
  mean: number;
  std: number;
  min: number;
  max: number;
  /** p5, p25, p50, p75, p95 */
  percentiles: [number, number, number, number, number];
  /** Fixed-bin histogram: `counts.length` bins over [lo, hi]; values outside are clamped into the end bins. */
  histogram: { lo: number; hi: number; counts: number[] };
  /**
   * Only on a layer's summary of standard deviations, and only in statistics recorded since it existed: the
   * share of the layer's normalizing units that are near-constant (see NEAR_CONSTANT_FACTOR).
   */
  nearConstant?: NearConstantShare;
}

/** What one normalizing mean/variance pair is taken over, for the layer kinds and shapes the sinks report. */
export type NormUnit = 'windows' | 'channels' | 'groups' | 'samples' | 'positions';

/**
 * A unit is near-constant when its variance σ² is below NEAR_CONSTANT_FACTOR · ε of its layer. Below 10 ε, ε is
 * at least 1/11 of σ² + ε: the layer no longer divides by the unit's own spread but by a floor set by ε, and its
 * gain 1/√(σ² + ε) is at least 1/√(11 ε) (≈ 95 at ε = 1e-5), rising to 1/√ε (≈ 316) as σ² → 0. Whatever tiny
 * deviations such a unit has, and the gradient through it, are amplified by that gain. (Within 5 % of 1/√ε
 * would need σ² < 0.11 ε; 10 ε is the wider net, so the share rises before the worst case is reached.) For
 * KernelNorm these are the flat windows (a constant background, zero padding): the symptom this share tracks.
 */
export const NEAR_CONSTANT_FACTOR = 10;

export interface NearConstantShare {
  /** count / total. */
  share: number;
  /** Units with σ² < factor · eps, counted over every unit of the batch (not the histogram's subsample). */
  count: number;
  total: number;
  unit: NormUnit;
  eps: number;
  factor: number;
}

/** Per-layer normalization statistics for the current batch, as the kernel-statistics inspector shows them. */
export interface NormLayerStats {
  /** Stable layer path, e.g. `res_block3.conv1`. */
  layer: string;
  kind: 'kn' | 'bn' | 'gn' | 'ln';
  /** Statistics of the normalizing means (KN: per window; BN: per channel; GN/LN: per sample and group). */
  mean: DistributionSummary;
  /** Statistics of the normalizing standard deviations sqrt(var + eps). */
  std: DistributionSummary;
}


/** Linear interpolation between closest ranks (numpy's default) on sorted values. */
function percentile(sorted: Float32Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lower = Math.floor(pos);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (pos - lower);
}

/**
 * Mean, population std, extremes, percentiles and a fixed-bin histogram over [min, max] of the finite values.
 * Non-finite values (a diverged run) are left out; if none is finite every statistic is NaN.
 */
export function summarizeDistribution(values: Float32Array, bins = 32): DistributionSummary {
  if (!(values instanceof Float32Array)) throw new Error('summarizeDistribution: values must be a Float32Array.');
  if (values.length === 0) throw new Error('summarizeDistribution: values is empty.');
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`summarizeDistribution: bins must be a positive integer, but got ${bins}.`);
  const finite = values.filter((v) => Number.isFinite(v));
  const counts = new Array<number>(bins).fill(0);
  if (finite.length === 0) {
    return { mean: NaN, std: NaN, min: NaN, max: NaN, percentiles: [NaN, NaN, NaN, NaN, NaN], histogram: { lo: NaN, hi: NaN, counts } };
  }
  let sum = 0;
  for (const v of finite) sum += v;
  const mean = sum / finite.length;
  let squares = 0;
  for (const v of finite) squares += (v - mean) ** 2;
  const sorted = finite.sort();
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  const width = (hi - lo) / bins;
  for (const v of sorted) counts[width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : 0]++;
  return {
    mean, std: Math.sqrt(squares / finite.length), min: lo, max: hi,
    percentiles: [0.05, 0.25, 0.5, 0.75, 0.95].map((q) => percentile(sorted, q)) as DistributionSummary['percentiles'],
    histogram: { lo, hi, counts },
  };
}

/** KN: one per window; BN: per channel; GN: per sample and group; LN: per sample, or per pixel (ConvNeXt's). */
export function normUnit(kind: NormLayerStats['kind'], std: tf.Tensor): NormUnit {
  switch (kind) {
    case 'kn': return 'windows';
    case 'bn': return 'channels';
    case 'gn': return 'groups';
    case 'ln': return std.rank === 4 ? 'positions' : 'samples';
  }
}

/**
 * How many entries of std = √(σ² + ε) have σ² < factor · ε, i.e. std² < (factor + 1) · ε, as a [1] tensor
 * (no read). Over the whole tensor: one reduction, cheap next to the forward that produced it.
 */
function countNearConstant(std: tf.Tensor, eps: number): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.cast(tf.less(tf.square(std), (NEAR_CONSTANT_FACTOR + 1) * eps), 'float32')).reshape<tf.Tensor1D>([1]));
}

function nearConstantShare(count: number, total: number, unit: NormUnit, eps: number): NearConstantShare {
  return { share: count / total, count, total, unit, eps, factor: NEAR_CONSTANT_FACTOR };
}

/** Every stride-th entry of t, flattened: at most maxSamples entries. Caller tidies. */
function subsample(t: tf.Tensor, maxSamples: number): tf.Tensor1D {
  const flat = t.reshape<tf.Tensor1D>([-1]);
  const stride = Math.ceil(flat.size / maxSamples);
  return stride > 1 ? tf.stridedSlice(flat, [0], [flat.size], [stride]) as tf.Tensor1D : flat;
}

function checkArguments(op: string, layer: string, mean: tf.Tensor, std: tf.Tensor, maxSamples: number, eps: number): void {
  if (!Number.isInteger(maxSamples) || maxSamples < 1) throw new Error(`${op}: maxSamples must be a positive integer, but got ${maxSamples}.`);
  if (!(eps > 0 && Number.isFinite(eps))) throw new Error(`${op}: eps of layer ${layer} must be a positive number, but got ${eps}.`);
  if (mean.size === 0) throw new Error(`${op}: layer ${layer} reported no statistics (mean has shape [${mean.shape}]).`);
  if (mean.size !== std.size) {
    throw new Error(`${op}: mean and std of layer ${layer} must have the same size, but got [${mean.shape}] and [${std.shape}].`);
  }
}

/**
 * Summaries of one layer's normalizing means and standard deviations for the current batch. Reads the tensors
 * synchronously; above maxSamples entries it reads an evenly strided, deterministic subsample (the near-constant
 * share counts every unit). `eps` is the layer's ε. Backends without synchronous reads (webgpu in Node) need
 * sampleNormStats + readNormStats instead.
 */
export function summarizeNormStats(
  layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096, eps = DEFAULT_EPS,
): NormLayerStats {
  checkArguments('summarizeNormStats', layer, mean, std, maxSamples, eps);
  const [meanValues, stdValues, flat] = tf.tidy(() => [
    subsample(mean, maxSamples).dataSync(), subsample(std, maxSamples).dataSync(), countNearConstant(std, eps).dataSync(),
  ]);
  return {
    layer, kind, mean: summarizeDistribution(meanValues as Float32Array),
    std: { ...summarizeDistribution(stdValues as Float32Array), nearConstant: nearConstantShare(flat[0], std.size, normUnit(kind, std), eps) },
  };
}

/**
 * One layer's statistics, subsampled on the backend and not yet read: what a stats sink can take inside a
 * forward pass (its tensors outlive the op's tidy) when reads must be asynchronous. Owns `samples`.
 */
export interface PendingNormStats {
  layer: string;
  kind: NormLayerStats['kind'];
  /** The subsampled means, then the subsampled standard deviations, then the near-constant count: [2 * count + 1]. */
  samples: tf.Tensor1D;
  /** Units in the layer (entries of std), unit they are, and the layer's ε: what the near-constant share needs. */
  units: number;
  unit: NormUnit;
  eps: number;
}

/**
 * Takes the same strided subsample summarizeNormStats reads, as a kept tensor (no read, no sync): call it in a
 * stats sink, then readNormStats after the forward pass.
 */
export function sampleNormStats(
  layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096, eps = DEFAULT_EPS,
): PendingNormStats {
  checkArguments('sampleNormStats', layer, mean, std, maxSamples, eps);
  const samples = tf.tidy(() => tf.keep(tf.concat([subsample(mean, maxSamples), subsample(std, maxSamples), countNearConstant(std, eps)])));
  return { layer, kind, samples, units: std.size, unit: normUnit(kind, std), eps };
}

/**
 * Reads every pending layer's samples with one asynchronous read (`await data()`, which works on every
 * backend), summarizes them as summarizeNormStats does, and disposes the pending tensors (also on failure).
 */
export async function readNormStats(pending: readonly PendingNormStats[]): Promise<NormLayerStats[]> {
  if (pending.length === 0) return [];
  try {
    const all = tf.tidy(() => (pending.length === 1 ? pending[0].samples.clone() : tf.concat(pending.map((p) => p.samples))));
    let values: Float32Array;
    try {
      values = (await all.data()) as Float32Array;
    } finally {
      all.dispose();
    }
    let at = 0;
    return pending.map((p) => {
      const half = (p.samples.size - 1) / 2;
      const mean = values.subarray(at, at + half);
      const std = values.subarray(at + half, at + 2 * half);
      const flat = values[at + 2 * half];
      at += p.samples.size;
      return {
        layer: p.layer, kind: p.kind, mean: summarizeDistribution(mean),
        std: { ...summarizeDistribution(std), nearConstant: nearConstantShare(flat, p.units, p.unit, p.eps) },
      };
    });
  } finally {
    for (const p of pending) p.samples.dispose();
  }
}

/** summarizeNormStats with an asynchronous read, for tensors the caller keeps alive until it resolves. */
export async function summarizeNormStatsAsync(
  layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096, eps = DEFAULT_EPS,
): Promise<NormLayerStats> {
  checkArguments('summarizeNormStatsAsync', layer, mean, std, maxSamples, eps);
  const [summary] = await readNormStats([sampleNormStats(layer, kind, mean, std, maxSamples, eps)]);
  return summary;
}
