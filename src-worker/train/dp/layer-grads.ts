import * as tf from '@tensorflow/tfjs';
import type { LayerInfo } from '../../models/types';
import { knWindowMoments } from '../../kn/ops';
import { im2col } from './im2col';

/**
 * Per-sample gradients of one layer's parameters from what the forward tap recorded: the layer's input and
 * the per-sample gradient of the loss w.r.t. the layer's output (one backward pass for the whole batch).
 * Every supported layer is linear in its parameters given its input, so the per-sample gradient factors
 * into (input features, output gradient) and is never built one example at a time.
 */
export interface LayerSampleGrads {
  /** How squaredNorms works: from Gram matrices or a rank-1 identity ('ghost'), or from the gradient itself. */
  readonly normMethod: 'ghost' | 'direct';
  /** ‖∇_θ ℓ_i‖² summed over this layer's parameters, [N]. */
  squaredNorms(): tf.Tensor1D;
  /** Σ_i c_i ∇_θ ℓ_i for each parameter, with per-sample weights c [N] (the clipping factors). */
  weightedSum(c: tf.Tensor1D): ParamGrad[];
  /** ∇_θ ℓ_i for each parameter stacked over samples, [N, ...shape]; for tests and diagnostics. */
  materialize(): ParamGrad[];
  dispose(): void;
}

export interface ParamGrad {
  variable: tf.Variable;
  grad: tf.Tensor;
}

/** Window statistics a KNConv used in its forward: [N, H', W', 1] each. */
export type KnMomentsProvider = (info: LayerInfo, input: tf.Tensor4D) => { mean: tf.Tensor4D; variance: tf.Tensor4D };

/** A layer's weight gradient and, when it has a bias, the bias's (undefined, not null: tidy only returns tensor containers). */
type WeightAndBiasGrads = [tf.Tensor, tf.Tensor | undefined];

function withBias(weight: tf.Variable, w: tf.Tensor, bias: tf.Variable | null | undefined, b: tf.Tensor | undefined): ParamGrad[] {
  const out: ParamGrad[] = [{ variable: weight, grad: w }];
  if (bias && b) out.push({ variable: bias, grad: b });
  return out;
}

function flatWeighted(c: tf.Tensor1D, t: tf.Tensor): tf.Tensor {
  return tf.mul(t, tf.reshape(c, [c.shape[0], ...t.shape.slice(1).map(() => 1)]));
}

/** y = x·W + b with W [in, out]; the per-sample gradient is the outer product x_i ⊗ g_i. */
class LinearGrads implements LayerSampleGrads {
  readonly normMethod = 'ghost';
  constructor(private readonly info: LayerInfo, private readonly a: tf.Tensor2D, private readonly g: tf.Tensor2D) {}

  squaredNorms(): tf.Tensor1D {
    return tf.tidy(() => {
      // ‖a ⊗ g‖² = ‖a‖²‖g‖²: no outer product needed
      const g2 = tf.sum(tf.square(this.g), 1);
      const w = tf.mul(tf.sum(tf.square(this.a), 1), g2);
      return (this.info.bias ? tf.add(w, g2) : w) as tf.Tensor1D;
    });
  }

  weightedSum(c: tf.Tensor1D): ParamGrad[] {
    const [w, b] = tf.tidy((): WeightAndBiasGrads => {
      const cg = flatWeighted(c, this.g) as tf.Tensor2D;
      return [tf.matMul(this.a, cg, true, false), this.info.bias ? tf.sum(cg, 0) : undefined];
    });
    return withBias(this.info.weight!, w, this.info.bias, b);
  }

  materialize(): ParamGrad[] {
    const [n, fin] = this.a.shape;
    const fout = this.g.shape[1];
    const w = tf.tidy(() => tf.matMul(tf.reshape(this.a, [n, fin, 1]), tf.reshape(this.g, [n, 1, fout])));
    return withBias(this.info.weight!, w, this.info.bias, this.info.bias ? tf.clone(this.g) : undefined);
  }

  dispose(): void {
    this.a.dispose();
    this.g.dispose();
  }
}

/** A KNConv forward's window statistics, [N, H', W', 1]: mean and 1/√(variance + eps). */
interface KnStats {
  mean: tf.Tensor4D;
  invStd: tf.Tensor4D;
}

/**
 * Convolutions (plain, KNConv, KNConv1x1's 1×1 conv) as a matrix product per sample: out_i = cols_i · W + b
 * with cols_i [P, K] the (for KNConv: normalised) windows and W [K, O]. Per-sample gradient: cols_iᵀ g_i.
 * Its norm is taken either from that [K, O] matrix or, when P² (K + O) < P·K·O, from Gram matrices,
 * ‖cols_iᵀ g_i‖² = ⟨cols_i cols_iᵀ, g_i g_iᵀ⟩ (ghost clipping, Li et al. 2022; Bu et al. 2022).
 * The clipped sum never builds windows: it is the ordinary filter gradient of (x, c·g), for KNConv of
 * (x, c·g/σ) minus the mean correction Σ μ·c·g/σ spread over the window, since
 * Σ_p (x_p − μ_p)/σ_p ⊗ g_p = Σ_p x_p ⊗ g_p/σ_p − 1 ⊗ Σ_p μ_p g_p/σ_p.
 */
class ConvGrads implements LayerSampleGrads {
  private cols: tf.Tensor3D | null = null;
  private readonly g: tf.Tensor3D;

  constructor(
    private readonly info: LayerInfo,
    private readonly x: tf.Tensor4D,
    private readonly g4: tf.Tensor4D,
    private readonly stats: KnStats | null,
  ) {
    const [n, h2, w2, o] = g4.shape;
    this.g = tf.reshape(g4, [n, h2 * w2, o]);
  }

  /** The per-sample design matrices, built on first use: only ghost norms need them, where P is small. */
  private windows(): tf.Tensor3D {
    if (this.cols) return this.cols;
    const raw = im2col(this.x, geometryOf(this.info), `per-sample gradients of ${this.info.path}`);
    if (!this.stats) return (this.cols = raw);
    const [n, p] = raw.shape;
    const { mean, invStd } = this.stats;
    this.cols = tf.tidy(() => tf.mul<tf.Tensor3D>(tf.sub(raw, tf.reshape(mean, [n, p, 1])), tf.reshape(invStd, [n, p, 1])));
    raw.dispose();
    return this.cols;
  }

  get normMethod(): 'ghost' | 'direct' {
    const [, p, o] = this.g.shape;
    const [kh, kw] = this.info.kernelSize!;
    const k = kh * kw * this.x.shape[3];
    return p * (k + o) < k * o ? 'ghost' : 'direct';
  }

  /**
   * Every sample's weight gradient in one depthwise convolution, as [C·kh·kw, N, O]: the input with channels
   * as the batch ([C, H, W, N]) convolved with the output gradients as a depthwise filter ([H', W', N, O],
   * dilated by the stride), so each sample is its own group. Same multiply-adds as the batched filter
   * gradient, run by the backend's convolution instead of a batched matrix product.
   */
  private perSampleWeightGrads(): tf.Tensor3D {
    const [kh, kw] = this.info.kernelSize!;
    const { stride: [sh, sw], padding: [top, bottom, left, right] } = geometryOf(this.info);
    const [n, , , c] = this.x.shape;
    const [, h2, w2, o] = this.g4.shape;
    return tf.tidy(() => {
      const padded = top + bottom + left + right > 0 ? tf.pad(this.x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : this.x;
      // rows/columns past the last window are never read
      const used = tf.slice(padded, [0, 0, 0, 0], [n, (h2 - 1) * sh + kh, (w2 - 1) * sw + kw, c]);
      const byChannel = tf.transpose<tf.Tensor4D>(used, [3, 1, 2, 0]);
      const g = this.stats ? (tf.mul<tf.Tensor4D>(this.g4, this.stats.invStd)) : this.g4;
      const filter = tf.transpose<tf.Tensor4D>(g, [1, 2, 0, 3]);
      const out = tf.depthwiseConv2d(byChannel, filter, 1, 'valid', 'NHWC', [sh, sw]); // [C, kh, kw, N·O]
      let perSample = tf.reshape(out, [c * kh * kw, n, o]);
      if (this.stats) {
        // KNConv subtracts each window's mean: Σ_p μ_p g_p/σ_p, the same for every (c, kh, kw)
        perSample = tf.sub(perSample, tf.reshape(tf.sum(tf.mul(g, this.stats.mean), [1, 2]), [1, n, o]));
      }
      return perSample as tf.Tensor3D;
    });
  }

  squaredNorms(): tf.Tensor1D {
    const ghost = this.normMethod === 'ghost';
    const cols = ghost ? this.windows() : null;
    return tf.tidy(() => {
      let w: tf.Tensor1D;
      if (cols) {
        const gramA = tf.matMul(cols, cols, false, true);
        const gramG = tf.matMul(this.g, this.g, false, true);
        w = tf.sum(tf.mul(gramA, gramG), [1, 2]);
      } else {
        w = tf.sum(tf.square(this.perSampleWeightGrads()), [0, 2]);
      }
      if (!this.info.bias) return w;
      return tf.add<tf.Tensor1D>(w, tf.sum(tf.square(tf.sum(this.g, 1)), 1));
    });
  }

  weightedSum(c: tf.Tensor1D): ParamGrad[] {
    const weight = this.info.weight!;
    const { stride, padding } = geometryOf(this.info);
    const [w, b] = tf.tidy((): WeightAndBiasGrads => {
      const cg = flatWeighted(c, this.g4) as tf.Tensor4D;
      const scaled = this.stats ? (tf.mul<tf.Tensor4D>(cg, this.stats.invStd)) : cg;
      let dw = tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x: this.x, dy: scaled }, {
        strides: stride, pad: [[0, 0], [padding[0], padding[1]], [padding[2], padding[3]], [0, 0]],
        dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: weight.shape,
      } as unknown as tf.NamedAttrMap);
      if (this.stats) {
        const o = weight.shape[3]!;
        const correction = tf.sum(tf.mul(scaled, this.stats.mean), [0, 1, 2]); // [O]
        dw = tf.sub(dw, tf.reshape(correction, [1, 1, 1, o]));
      }
      return [dw, this.info.bias ? tf.sum(cg, [0, 1, 2]) : undefined];
    });
    return withBias(weight, w, this.info.bias, b);
  }

  materialize(): ParamGrad[] {
    const [kh, kw] = this.info.kernelSize!;
    const [n, , , c] = this.x.shape;
    const weight = this.info.weight!;
    const o = weight.shape[3]!;
    const [w, b] = tf.tidy((): WeightAndBiasGrads => [
      tf.transpose(tf.reshape(this.perSampleWeightGrads(), [c, kh, kw, n, o]), [3, 1, 2, 0, 4]),
      this.info.bias ? tf.sum(this.g, 1) : undefined,
    ]);
    return withBias(weight, w, this.info.bias, b);
  }

  dispose(): void {
    tf.dispose([this.g, this.x, this.g4]);
    this.cols?.dispose();
    if (this.stats) tf.dispose([this.stats.mean, this.stats.invStd]);
  }
}

/** GroupNorm / LayerNorm affine: out = γ·x̂ + β, x̂ normalised per sample, so ∇γ_i = Σ_hw g·x̂, ∇β_i = Σ_hw g. */
class AffineNormGrads implements LayerSampleGrads {
  readonly normMethod = 'direct';
  constructor(private readonly info: LayerInfo, private readonly gx: tf.Tensor2D, private readonly gsum: tf.Tensor2D) {}

  squaredNorms(): tf.Tensor1D {
    return tf.tidy(() => tf.add<tf.Tensor1D>(tf.sum(tf.square(this.gx), 1), tf.sum(tf.square(this.gsum), 1)));
  }

  weightedSum(c: tf.Tensor1D): ParamGrad[] {
    const [gamma, beta] = tf.tidy((): [tf.Tensor, tf.Tensor] => [tf.sum(flatWeighted(c, this.gx), 0), tf.sum(flatWeighted(c, this.gsum), 0)]);
    return [
      { variable: this.info.gamma!, grad: gamma },
      { variable: this.info.beta!, grad: beta },
    ];
  }

  materialize(): ParamGrad[] {
    return [
      { variable: this.info.gamma!, grad: tf.clone(this.gx) },
      { variable: this.info.beta!, grad: tf.clone(this.gsum) },
    ];
  }

  dispose(): void {
    this.gx.dispose();
    this.gsum.dispose();
  }
}

function geometryOf(info: LayerInfo) {
  if (!info.kernelSize || !info.stride || !info.padding) {
    throw new Error(`DP-SGD: layer ${info.path} (${info.kind}) does not report kernelSize, stride and padding`);
  }
  return { kernelSize: info.kernelSize, stride: info.stride, padding: info.padding };
}

/**
 * The window statistics of a KNConv forward with KN dropout, replayed with the same mask. Needs the dropout
 * seed of that forward, which the models report in the tap's LayerInfo (`seed`); without it the masks cannot
 * be reproduced.
 */
const replayKnMoments: KnMomentsProvider = (info, x) => {
  const seed = info.seed;
  if (seed === undefined) {
    throw new Error(
      `DP-SGD: KNConv layer ${info.path} uses KernelNorm dropout ${info.dropout}, whose masks must be reproduced for ` +
        'per-sample gradients, but the model does not report their seed; train DP models with knDropout 0',
    );
  }
  const g = geometryOf(info);
  return knWindowMoments(x, { ...g, dropout: info.dropout, eps: info.eps, training: true, seed });
};

/**
 * The window statistics a KNConv's forward used. With KN dropout they are replayed with the forward's mask
 * (`knMoments`, or the tap's seed); without, they are the windows' own, from the same op.
 */
function knStats(info: LayerInfo, x: tf.Tensor4D, knMoments?: KnMomentsProvider): KnStats {
  const eps = info.eps ?? 1e-5;
  return tf.tidy(() => {
    const m = (info.dropout ?? 0) > 0
      ? (knMoments ?? replayKnMoments)(info, x)
      : knWindowMoments(x, { ...geometryOf(info), eps, dropout: 0, training: false });
    return { mean: m.mean, invStd: tf.rsqrt(tf.add(m.variance, eps)) as tf.Tensor4D };
  });
}

function groupNormalized(info: LayerInfo, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const groups = info.kind === 'ln' ? 1 : info.groups ?? 1;
  if (c % groups !== 0) throw new Error(`DP-SGD: layer ${info.path} has ${c} channels, not divisible into ${groups} groups`);
  return tf.tidy(() => {
    const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normalized = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, info.eps ?? 1e-5)));
    return tf.reshape<tf.Rank.R4>(normalized, x.shape);
  });
}

/** The layer's reported geometry must reproduce its output's spatial size, or its gradients would be wrong. */
function checkSpatial(info: LayerInfo, x: tf.Tensor4D, g: tf.Tensor4D): void {
  const { kernelSize: [kh, kw], stride: [sh, sw], padding: [t, b, l, r] } = geometryOf(info);
  const outH = Math.floor((x.shape[1] + t + b - kh) / sh) + 1;
  const outW = Math.floor((x.shape[2] + l + r - kw) / sw) + 1;
  if (outH !== g.shape[1] || outW !== g.shape[2]) {
    throw new Error(
      `DP-SGD: layer ${info.path} reports a geometry giving ${outH}x${outW} outputs from input [${x.shape}], but its output is [${g.shape}]`,
    );
  }
}

/**
 * Factored per-sample gradients of one tapped layer. Takes ownership of nothing: `input` and `outputGrad`
 * stay the caller's; everything created here is released by the result's dispose().
 */
export function layerSampleGrads(info: LayerInfo, input: tf.Tensor, outputGrad: tf.Tensor, knMoments?: KnMomentsProvider): LayerSampleGrads {
  switch (info.kind) {
    case 'linear': {
      const n = input.shape[0];
      return new LinearGrads(info, tf.reshape<tf.Rank.R2>(input, [n, -1]), tf.clone(outputGrad) as tf.Tensor2D);
    }
    case 'conv':
    case 'knconv1x1':
    case 'knconv': {
      const x = input as tf.Tensor4D;
      checkSpatial(info, x, outputGrad as tf.Tensor4D);
      const stats = info.kind === 'knconv' ? knStats(info, x, knMoments) : null;
      return new ConvGrads(info, tf.clone(x), tf.clone(outputGrad) as tf.Tensor4D, stats);
    }
    case 'gn':
    case 'ln': {
      const { gx, gsum } = tf.tidy(() => ({
        gx: tf.sum<tf.Tensor2D>(tf.mul(outputGrad, groupNormalized(info, input as tf.Tensor4D)), [1, 2]),
        gsum: tf.sum<tf.Tensor2D>(outputGrad, [1, 2]),
      }));
      return new AffineNormGrads(info, gx, gsum);
    }
    case 'bn':
      throw new Error(`DP-SGD: layer ${info.path} is BatchNorm, which mixes examples in a batch`);
    case 'dwconv':
      throw new Error(`DP-SGD: layer ${info.path} is a depthwise conv, for which per-sample gradients are not implemented`);
  }
}
