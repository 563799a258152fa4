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
