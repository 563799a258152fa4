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

function withBias(weight: tf.Variable, w: tf.Tensor, bias: tf.Variable | null | undefined, b: tf.Tensor | null): ParamGrad[] {
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
    const [w, b] = tf.tidy(() => {
      const cg = flatWeighted(c, this.g) as tf.Tensor2D;
      return [tf.matMul(this.a, cg, true, false), this.info.bias ? tf.sum(cg, 0) : null];
    });
    return withBias(this.info.weight!, w, this.info.bias, b);
  }

  materialize(): ParamGrad[] {
    const [n, fin] = this.a.shape;
    const fout = this.g.shape[1];
    const w = tf.tidy(() => tf.matMul(tf.reshape(this.a, [n, fin, 1]), tf.reshape(this.g, [n, 1, fout])));
    return withBias(this.info.weight!, w, this.info.bias, this.info.bias ? tf.clone(this.g) : null);
  }

  dispose(): void {
    this.a.dispose();
    this.g.dispose();
  }
}

/**
 * Convolutions (plain, KNConv's normalised windows, KNConv1x1's 1×1 conv) as a matrix product per sample:
 * out_i = cols_i · W + b with cols_i [P, K] (P output positions, K = kh·kw·C) and W [K, O]. Per-sample
 * gradient: cols_iᵀ g_i. Its norm is taken either from that [K, O] matrix or, when P² (K + O) < P·K·O, from
 * Gram matrices, ‖cols_iᵀ g_i‖² = ⟨cols_i cols_iᵀ, g_i g_iᵀ⟩ (ghost clipping, Li et al. 2022; Bu et al. 2022).
 */
class ConvGrads implements LayerSampleGrads {
  constructor(private readonly info: LayerInfo, private readonly cols: tf.Tensor3D, private readonly g: tf.Tensor3D) {}

  get normMethod(): 'ghost' | 'direct' {
    const [, p, k] = this.cols.shape;
    const o = this.g.shape[2];
    return p * (k + o) < k * o ? 'ghost' : 'direct';
  }

  squaredNorms(): tf.Tensor1D {
    return tf.tidy(() => {
      let w: tf.Tensor1D;
      if (this.normMethod === 'ghost') {
        const gramA = tf.matMul(this.cols, this.cols, false, true);
        const gramG = tf.matMul(this.g, this.g, false, true);
        w = tf.sum(tf.mul(gramA, gramG), [1, 2]);
      } else {
        w = tf.sum(tf.square(tf.matMul(this.cols, this.g, true, false)), [1, 2]);
      }
      if (!this.info.bias) return w;
      return tf.add(w, tf.sum(tf.square(tf.sum(this.g, 1)), 1)) as tf.Tensor1D;
    });
  }

  weightedSum(c: tf.Tensor1D): ParamGrad[] {
    const [n, p, k] = this.cols.shape;
    const o = this.g.shape[2];
    const weight = this.info.weight!;
    const [w, b] = tf.tidy(() => {
      const cg = flatWeighted(c, this.g);
      // one [K, N·P] × [N·P, O] product: the batched weight gradient with each sample's g scaled by c_i
      const w = tf.matMul(tf.reshape(this.cols, [n * p, k]), tf.reshape(cg, [n * p, o]), true, false);
      return [tf.reshape(w, weight.shape), this.info.bias ? tf.sum(cg, [0, 1]) : null];
    });
    return withBias(weight, w, this.info.bias, b);
  }

  materialize(): ParamGrad[] {
    const n = this.cols.shape[0];
    const weight = this.info.weight!;
    const [w, b] = tf.tidy(() => [
      tf.reshape(tf.matMul(this.cols, this.g, true, false), [n, ...weight.shape]),
      this.info.bias ? tf.sum(this.g, 1) : null,
    ]);
    return withBias(weight, w, this.info.bias, b);
  }

  dispose(): void {
    this.cols.dispose();
    this.g.dispose();
  }
}

/** GroupNorm / LayerNorm affine: out = γ·x̂ + β, x̂ normalised per sample, so ∇γ_i = Σ_hw g·x̂, ∇β_i = Σ_hw g. */
class AffineNormGrads implements LayerSampleGrads {
  readonly normMethod = 'direct';
  constructor(private readonly info: LayerInfo, private readonly gx: tf.Tensor2D, private readonly gsum: tf.Tensor2D) {}

  squaredNorms(): tf.Tensor1D {
    return tf.tidy(() => tf.add(tf.sum(tf.square(this.gx), 1), tf.sum(tf.square(this.gsum), 1)) as tf.Tensor1D);
  }

  weightedSum(c: tf.Tensor1D): ParamGrad[] {
    const [gamma, beta] = tf.tidy(() => [tf.sum(flatWeighted(c, this.gx), 0), tf.sum(flatWeighted(c, this.gsum), 0)]);
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
 * seed of that forward in the tap's LayerInfo (`dropoutSeed`, a proposed additive field of the models'
 * contract); without it the masks cannot be reproduced and DP training must use knDropout 0.
 */
const replayKnMoments: KnMomentsProvider = (info, x) => {
  const seed = (info as LayerInfo & { dropoutSeed?: number }).dropoutSeed;
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
 * KNConv's normalised windows: (window − μ)/√(σ² + eps), with μ, σ² the statistics its forward used. With
 * KN dropout off they follow from the windows themselves; with dropout they come from `knMoments`.
 */
function knNormalizedCols(info: LayerInfo, x: tf.Tensor4D, cols: tf.Tensor3D, knMoments?: KnMomentsProvider): tf.Tensor3D {
  const eps = info.eps ?? 1e-5;
  return tf.tidy(() => {
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if ((info.dropout ?? 0) > 0) {
      const m = (knMoments ?? replayKnMoments)(info, x);
      const [n, p] = cols.shape;
      mean = tf.reshape(m.mean, [n, p, 1]);
      variance = tf.reshape(m.variance, [n, p, 1]);
    } else {
      const moments = tf.moments(cols, 2, true);
      mean = moments.mean;
      variance = moments.variance;
    }
    return tf.div(tf.sub(cols, mean), tf.sqrt(tf.add(variance, eps))) as tf.Tensor3D;
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
    return tf.reshape(normalized, x.shape) as tf.Tensor4D;
  });
}

function checkSpatial(info: LayerInfo, cols: tf.Tensor3D, g: tf.Tensor): void {
  const positions = g.shape[1]! * g.shape[2]!;
  if (cols.shape[1] !== positions) {
    throw new Error(
      `DP-SGD: layer ${info.path} reports a geometry giving ${cols.shape[1]} output positions, but its output has ${positions}`,
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
      const n = input.shape[0]!;
      return new LinearGrads(info, tf.reshape(input, [n, -1]) as tf.Tensor2D, tf.clone(outputGrad) as tf.Tensor2D);
    }
    case 'conv':
    case 'knconv1x1':
    case 'knconv': {
      const x = input as tf.Tensor4D;
      const [n, h2, w2, o] = outputGrad.shape as [number, number, number, number];
      const rawCols = im2col(x, geometryOf(info), `per-sample gradients of ${info.path}`);
      checkSpatial(info, rawCols, outputGrad);
      let cols = rawCols;
      if (info.kind === 'knconv') {
        cols = knNormalizedCols(info, x, rawCols, knMoments);
        rawCols.dispose();
      }
      return new ConvGrads(info, cols, tf.reshape(outputGrad, [n, h2 * w2, o]));
    }
    case 'gn':
    case 'ln': {
      const { gx, gsum } = tf.tidy(() => ({
        gx: tf.sum(tf.mul(outputGrad, groupNormalized(info, input as tf.Tensor4D)), [1, 2]) as tf.Tensor2D,
        gsum: tf.sum(outputGrad, [1, 2]) as tf.Tensor2D,
      }));
      return new AffineNormGrads(info, gx, gsum);
    }
    case 'bn':
      throw new Error(`DP-SGD: layer ${info.path} is BatchNorm, which mixes examples in a batch`);
  }
}
