/**
 * torchvision's classification recipe with `--lr-warmup-method linear`: SequentialLR of LinearLR
 * (start_factor = warmupDecay, over `warmupEpochs` epochs) and CosineAnnealingLR (T_max = epochs − warmup,
 * eta_min = minLr), both stepped once per epoch. `epoch` is 0-based: the rate used during that epoch.
 *   e < W:  lr · (d + (1 − d) · e / W)
 *   e ≥ W:  minLr + (lr − minLr) · (1 + cos(π (e − W) / (E − W))) / 2
 */
export function warmupCosine(
  baseLr: number,
  epoch: number,
  opts: { totalEpochs: number; warmupEpochs: number; warmupDecay?: number; minLr?: number },
): number {
  const { totalEpochs, warmupEpochs } = opts;
  const decay = opts.warmupDecay ?? 0.01;
  const minLr = opts.minLr ?? 0;
  if (!(totalEpochs > warmupEpochs)) {
    throw new Error(`Error in warmupCosine: epochs (${totalEpochs}) must exceed the warm-up epochs (${warmupEpochs})`);
  }
  if (epoch < warmupEpochs) return baseLr * (decay + ((1 - decay) * epoch) / warmupEpochs);
  const t = Math.min(epoch - warmupEpochs, totalEpochs - warmupEpochs);
  return minLr + ((baseLr - minLr) * (1 + Math.cos((Math.PI * t) / (totalEpochs - warmupEpochs)))) / 2;
}
