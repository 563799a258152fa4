import * as tf from '@tensorflow/tfjs';

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

/** Every stride-th entry of t, flattened: at most maxSamples entries. Caller tidies. */
function subsample(t: tf.Tensor, maxSamples: number): tf.Tensor1D {
  const flat = t.reshape<tf.Tensor1D>([-1]);
  const stride = Math.ceil(flat.size / maxSamples);
  return stride > 1 ? tf.stridedSlice(flat, [0], [flat.size], [stride]) as tf.Tensor1D : flat;
}

function checkArguments(op: string, layer: string, mean: tf.Tensor, std: tf.Tensor, maxSamples: number): void {
  if (!Number.isInteger(maxSamples) || maxSamples < 1) throw new Error(`${op}: maxSamples must be a positive integer, but got ${maxSamples}.`);
  if (mean.size !== std.size) {
    throw new Error(`${op}: mean and std of layer ${layer} must have the same size, but got [${mean.shape}] and [${std.shape}].`);
  }
}

/**
 * Summaries of one layer's normalizing means and standard deviations for the current batch. Reads the tensors
 * synchronously; above maxSamples entries it reads an evenly strided, deterministic subsample. Backends without
 * synchronous reads (webgpu in Node) need sampleNormStats + readNormStats instead.
 */
export function summarizeNormStats(layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096): NormLayerStats {
  checkArguments('summarizeNormStats', layer, mean, std, maxSamples);
  const [meanValues, stdValues] = tf.tidy(() => [subsample(mean, maxSamples).dataSync(), subsample(std, maxSamples).dataSync()]);
  return { layer, kind, mean: summarizeDistribution(meanValues as Float32Array), std: summarizeDistribution(stdValues as Float32Array) };
}

/**
 * One layer's statistics, subsampled on the backend and not yet read: what a stats sink can take inside a
 * forward pass (its tensors outlive the op's tidy) when reads must be asynchronous. Owns `samples`.
 */
export interface PendingNormStats {
  layer: string;
  kind: NormLayerStats['kind'];
  /** The subsampled means followed by the subsampled standard deviations, [2 * count]. */
  samples: tf.Tensor1D;
}

/**
 * Takes the same strided subsample summarizeNormStats reads, as a kept tensor (no read, no sync): call it in a
 * stats sink, then readNormStats after the forward pass.
 */
export function sampleNormStats(layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096): PendingNormStats {
  checkArguments('sampleNormStats', layer, mean, std, maxSamples);
  const samples = tf.tidy(() => tf.keep(tf.concat([subsample(mean, maxSamples), subsample(std, maxSamples)])));
  return { layer, kind, samples };
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
      const half = p.samples.size / 2;
      const mean = values.subarray(at, at + half);
      const std = values.subarray(at + half, at + 2 * half);
      at += 2 * half;
      return { layer: p.layer, kind: p.kind, mean: summarizeDistribution(mean), std: summarizeDistribution(std) };
    });
  } finally {
    for (const p of pending) p.samples.dispose();
  }
}

/** summarizeNormStats with an asynchronous read, for tensors the caller keeps alive until it resolves. */
export async function summarizeNormStatsAsync(layer: string, kind: NormLayerStats['kind'], mean: tf.Tensor, std: tf.Tensor, maxSamples = 4096): Promise<NormLayerStats> {
  checkArguments('summarizeNormStatsAsync', layer, mean, std, maxSamples);
  const [summary] = await readNormStats([sampleNormStats(layer, kind, mean, std, maxSamples)]);
  return summary;
}
