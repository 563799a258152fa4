/**
 * Per-channel mean/std used when a run asks for `normalize: true` (the BN/GN/LN baselines).
 * CIFAR-100: the values in the reference's reproducibility/run-cifar100.sh. CIFAR-10: the reference ships no
 * CIFAR-10 script, so these are the commonly used CIFAR-10 training-set statistics. ImageNet: torchvision's
 * classification presets, which the reference's ImageNet script (simulate_multi_gpu.py) uses for every model.
 */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

export const CIFAR10_STATS: ChannelStats = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
export const CIFAR100_STATS: ChannelStats = { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] };
export const IMAGENET_STATS: ChannelStats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * byte → float lookup per channel: v/255, then (· − mean)/std when stats are given. A table turns the per-pixel
 * work into one indexed load, and makes the zero padding of a random crop come out exactly as torchvision's
 * (pad the 8-bit image with 0, then normalise: −mean/std, not 0).
 */
export function byteTables(channels: number, stats: ChannelStats | null): Float32Array[] {
  const tables: Float32Array[] = [];
  for (let c = 0; c < channels; c++) {
    const table = new Float32Array(256);
    const mean = stats ? stats.mean[c] : 0;
    const std = stats ? stats.std[c] : 1;
    for (let v = 0; v < 256; v++) table[v] = (v / 255 - mean) / std;
    tables.push(table);
  }
  return tables;
}
