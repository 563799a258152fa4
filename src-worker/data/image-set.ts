/** Decoded images held in memory as bytes, NHWC. */
export interface ImageSet {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
}

/** Per-channel mean and std of a set's pixels scaled to [0, 1]. */
export function channelMoments(set: ImageSet): { mean: number[]; std: number[] } {
  const channels = set.shape[2];
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const { images } = set;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    const c = i % channels;
    sum[c] += v;
    sumSq[c] += v * v;
  }
  const n = images.length / channels;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    const m = sum[c] / n;
    mean.push(m / 255);
    std.push(Math.sqrt(Math.max(sumSq[c] / n - m * m, 0)) / 255);
  }
  return { mean, std };
}
