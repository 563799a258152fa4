/**
 * Float64 reference implementations written straight from the definitions, with explicit windows and loops.
 * Slow on purpose: no pooled moments, no shifts, no fused algebra; two-pass mean and variance per window.
 */

export interface Array4 {
  shape: [number, number, number, number];
  data: Float64Array;
}

export interface NaiveWindowOptions {
  kernel: [number, number];
  stride: [number, number];
  /** [top, bottom, left, right] */
  padding: [number, number, number, number];
  eps: number;
  /** Scaled dropout mask over x (0 or 1/(1-p)); statistics are taken of x * mask. */
  mask?: Float64Array | null;
}

export const index4 = (shape: readonly number[], a: number, b: number, c: number, d: number): number =>
  ((a * shape[1] + b) * shape[2] + c) * shape[3] + d;

export function outputSize(inH: number, inW: number, o: NaiveWindowOptions): [number, number] {
  const [t, b, l, r] = o.padding;
  return [Math.floor((inH + t + b - o.kernel[0]) / o.stride[0]) + 1, Math.floor((inW + l + r - o.kernel[1]) / o.stride[1]) + 1];
}

/** Entries of one window of the zero-padded input, in (i, j, channel) order, plain and after dropout. */
function windowOf(x: Array4, n: number, oh: number, ow: number, o: NaiveWindowOptions): { plain: number[]; dropped: number[] } {
  const [, h, w, c] = x.shape;
  const plain: number[] = [];
  const dropped: number[] = [];
  for (let i = 0; i < o.kernel[0]; i++) {
    for (let j = 0; j < o.kernel[1]; j++) {
      const row = oh * o.stride[0] + i - o.padding[0];
      const col = ow * o.stride[1] + j - o.padding[2];
      for (let ch = 0; ch < c; ch++) {
        const inside = row >= 0 && row < h && col >= 0 && col < w;
        const k = inside ? index4(x.shape, n, row, col, ch) : -1;
        const v = inside ? x.data[k] : 0;
        plain.push(v);
        dropped.push(inside && o.mask ? v * o.mask[k] : v);
      }
    }
  }
  return { plain, dropped };
}

function meanAndVariance(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { mean, variance };
}

export interface NaiveWindowResult {
  out: Array4;
  /** Per window, [N,H',W'] flattened. */
  mean: Float64Array;
  variance: Float64Array;
}

/** KNConv2d: every window normalized by its own (dropped-out) statistics, then dotted with each filter. */
export function naiveKnConv2d(x: Array4, weight: Array4, bias: Float64Array | null, o: NaiveWindowOptions): NaiveWindowResult {
  const [n, h, w] = x.shape;
  const [kh, kw, cIn, cOut] = weight.shape;
  const [oh, ow] = outputSize(h, w, o);
  const out: Array4 = { shape: [n, oh, ow, cOut], data: new Float64Array(n * oh * ow * cOut) };
  const means = new Float64Array(n * oh * ow);
  const variances = new Float64Array(n * oh * ow);
  for (let b = 0; b < n; b++) for (let r = 0; r < oh; r++) for (let q = 0; q < ow; q++) {
    const win = windowOf(x, b, r, q, o);
    const { mean, variance } = meanAndVariance(win.dropped);
    const std = Math.sqrt(variance + o.eps);
    const at = (b * oh + r) * ow + q;
    means[at] = mean;
    variances[at] = variance;
    for (let f = 0; f < cOut; f++) {
      let acc = 0;
      let e = 0;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ch = 0; ch < cIn; ch++) {
        acc += weight.data[index4(weight.shape, i, j, ch, f)] * (win.plain[e++] - mean) / std;
      }
      out.data[index4(out.shape, b, r, q, f)] = acc + (bias ? bias[f] : 0);
    }
  }
  return { out, mean: means, variance: variances };
}

/** KernelNorm2d: the normalized windows laid side by side, [N, H'*kh, W'*kw, C]. */
export function naiveKernelNorm2d(x: Array4, o: NaiveWindowOptions): NaiveWindowResult {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = o.kernel;
  const [oh, ow] = outputSize(h, w, o);
  const out: Array4 = { shape: [n, oh * kh, ow * kw, c], data: new Float64Array(n * oh * kh * ow * kw * c) };
  const means = new Float64Array(n * oh * ow);
  const variances = new Float64Array(n * oh * ow);
  for (let b = 0; b < n; b++) for (let r = 0; r < oh; r++) for (let q = 0; q < ow; q++) {
    const win = windowOf(x, b, r, q, o);
    const { mean, variance } = meanAndVariance(win.dropped);
    const std = Math.sqrt(variance + o.eps);
    means[(b * oh + r) * ow + q] = mean;
    variances[(b * oh + r) * ow + q] = variance;
    let e = 0;
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ch = 0; ch < c; ch++) {
      out.data[index4(out.shape, b, r * kh + i, q * kw + j, ch)] = (win.plain[e++] - mean) / std;
    }
  }
  return { out, mean: means, variance: variances };
}

/** KernelNorm2d1x1: each pixel normalized over its channels. */
export function naiveKernelNorm1x1(x: Array4, eps: number, mask: Float64Array | null = null): NaiveWindowResult {
  return naiveKernelNorm2d(x, { kernel: [1, 1], stride: [1, 1], padding: [0, 0, 0, 0], eps, mask });
}

export interface NaiveBatchNormResult {
  out: Array4;
  mean: Float64Array;
  /** Biased batch variance (training) or the running variance (eval). */
  variance: Float64Array;
  runningMean: Float64Array;
  runningVariance: Float64Array;
}

/** BatchNorm as PyTorch defines it: biased variance to normalize, unbiased variance into the running average. */
export function naiveBatchNorm(
  x: Array4, gamma: Float64Array, beta: Float64Array, running: { mean: Float64Array; variance: Float64Array },
  o: { training: boolean; momentum: number; eps: number },
): NaiveBatchNormResult {
  const [n, h, w, c] = x.shape;
  const count = n * h * w;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const runningMean = Float64Array.from(running.mean);
  const runningVariance = Float64Array.from(running.variance);
  for (let ch = 0; ch < c; ch++) {
    const values: number[] = [];
    for (let p = 0; p < count; p++) values.push(x.data[p * c + ch]);
    if (o.training) {
      const s = meanAndVariance(values);
      mean[ch] = s.mean;
      variance[ch] = s.variance;
      runningMean[ch] = (1 - o.momentum) * running.mean[ch] + o.momentum * s.mean;
      runningVariance[ch] = (1 - o.momentum) * running.variance[ch] + o.momentum * s.variance * count / (count - 1);
    } else {
      mean[ch] = running.mean[ch];
      variance[ch] = running.variance[ch];
    }
  }
  const out: Array4 = { shape: [n, h, w, c], data: new Float64Array(x.data.length) };
  for (let p = 0; p < count; p++) for (let ch = 0; ch < c; ch++) {
    out.data[p * c + ch] = gamma[ch] * (x.data[p * c + ch] - mean[ch]) / Math.sqrt(variance[ch] + o.eps) + beta[ch];
  }
  return { out, mean, variance, runningMean, runningVariance };
}

/** GroupNorm: per sample and group of C/groups consecutive channels, over (H, W, channels of the group). */
export function naiveGroupNorm(x: Array4, gamma: Float64Array, beta: Float64Array, groups: number, eps: number):
  { out: Array4; mean: Float64Array; variance: Float64Array } {
  const [n, h, w, c] = x.shape;
  const per = c / groups;
  const out: Array4 = { shape: [n, h, w, c], data: new Float64Array(x.data.length) };
  const mean = new Float64Array(n * groups);
  const variance = new Float64Array(n * groups);
  for (let b = 0; b < n; b++) for (let g = 0; g < groups; g++) {
    const values: number[] = [];
    for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) for (let k = 0; k < per; k++) {
      values.push(x.data[index4(x.shape, b, r, q, g * per + k)]);
    }
    const s = meanAndVariance(values);
    mean[b * groups + g] = s.mean;
    variance[b * groups + g] = s.variance;
    for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) for (let k = 0; k < per; k++) {
      const ch = g * per + k;
      const at = index4(x.shape, b, r, q, ch);
      out.data[at] = gamma[ch] * (x.data[at] - s.mean) / Math.sqrt(s.variance + eps) + beta[ch];
    }
  }
  return { out, mean, variance };
}

export function naiveMish(v: number): number {
  const softplus = v > 30 ? v : Math.log1p(Math.exp(v));
  return v * Math.tanh(softplus);
}

/**
 * Central-difference gradient of a scalar function of several float64 arrays, every entry of every array.
 * In float64 with h ~ 1e-5 the truncation and rounding errors are ~1e-9, far below the float32 ops' error.
 */
export function numericGradients(f: (params: Float64Array[]) => number, params: Float64Array[], h = 1e-5): Float64Array[] {
  return params.map((p) => {
    const g = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const keep = p[i];
      const step = h * Math.max(1, Math.abs(keep));
      p[i] = keep + step;
      const up = f(params);
      p[i] = keep - step;
      const down = f(params);
      p[i] = keep;
      g[i] = (up - down) / (2 * step);
    }
    return g;
  });
}

/** sum(out * probe): a scalar loss whose gradient w.r.t. the output is `probe`. */
export const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i], 0);

/** Deterministic normal draws (Box-Muller over a mulberry32 stream): fixtures are the same on every run. */
export function normals(count: number, seed: number, scale = 1, offset = 0): Float64Array {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = offset + scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}
