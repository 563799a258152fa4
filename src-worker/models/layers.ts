import * as tf from '@tensorflow/tfjs';
import { kernelNorm2d1x1, knConv2d } from '../kn/ops';
import { batchNorm2d, groupNorm2d, layerNorm2d } from '../kn/norms';
import { constantInit, kaimingNormalFanOut, pytorchDefaultUniform, truncatedNormal002, type Initializer } from './init';
import { groupsFor } from './options';
import type { ModelBuilder, Param, ParameterisedLayer, RunContext } from './builder';
import type { LayerInfo, NormKind } from './types';

/** [top, bottom, left, right], the order the kn ops take. */
export type Padding4 = [number, number, number, number];

/**
 * Converts a padding as the reference's KNConv2d stores it into ours. The reference turns an int p into
 * F.pad's (p, p, p, p) and a pair (a, b) into (a, a, b, b); F.pad's 4-tuple is (left, right, top, bottom).
 */
export function fromTorchPadding(p: number | [number, number] | [number, number, number, number]): Padding4 {
  if (typeof p === 'number') return [p, p, p, p];
  const [left, right, top, bottom] = p.length === 2 ? [p[0], p[0], p[1], p[1]] : p;
  return [top, bottom, left, right];
}

/**
 * How a layer's parameters start:
 * - 'kaiming_fan_out': weight N(0, 2/fan_out), bias 0 (the reference's init loops for ResNets and KNResNets)
 * - 'pytorch_default': weight and bias U(±1/√fan_in) (what nn.Conv2d/nn.Linear do when nothing overrides)
 * - 'trunc_normal_002': weight trunc_normal_(std=0.02), bias 0 (ConvNeXt's init loop)
 */
export type ConvInit = 'kaiming_fan_out' | 'pytorch_default' | 'trunc_normal_002';

function weightInit(init: ConvInit, fanIn: number, fanOut: number): Initializer {
  switch (init) {
    case 'kaiming_fan_out':
      return kaimingNormalFanOut(fanOut);
    case 'pytorch_default':
      return pytorchDefaultUniform(fanIn);
    case 'trunc_normal_002':
      return truncatedNormal002;
  }
}

function biasInit(init: ConvInit, fanIn: number): Initializer {
  return init === 'pytorch_default' ? pytorchDefaultUniform(fanIn) : constantInit(0);
}

export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  bias: boolean;
  init: ConvInit;
  /** The bias's init when it differs from what `init` implies (an init loop that only sets weights). */
  biasInit?: ConvInit;
}

/** nn.Conv2d with symmetric zero padding. Weight [k, k, in, out]. */
export class Conv2d implements ParameterisedLayer {
  private readonly weight: Param;
  private readonly bias: Param | null;
  private readonly stride: number;
  private readonly padding: number;

  constructor(b: ModelBuilder, readonly path: string, spec: ConvSpec & { padding?: number }) {
    const { inChannels, outChannels, kernel } = spec;
    this.stride = spec.stride ?? 1;
    this.padding = spec.padding ?? 0;
    const fanIn = inChannels * kernel * kernel;
    const fanOut = outChannels * kernel * kernel;
    this.weight = b.param(`${path}.weight`, [kernel, kernel, inChannels, outChannels], weightInit(spec.init, fanIn, fanOut));
    this.bias = spec.bias ? b.param(`${path}.bias`, [outChannels], biasInit(spec.biasInit ?? spec.init, fanIn)) : null;
    b.register(this);
  }

  info(): LayerInfo {
    const k = this.weight.shape[0];
    const p = this.padding;
    return {
      path: this.path, kind: 'conv', kernelSize: [k, k], stride: [this.stride, this.stride], padding: [p, p, p, p],
      weight: this.weight.variable, bias: this.bias?.variable ?? null,
    };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = tf.conv2d(x, this.weight.variable as tf.Tensor4D, this.stride, this.padding);
    if (this.bias) out = tf.add(out, this.bias.variable);
    return rc.tap(this, x, out);
  }
}

/** The reference's KNConv2d: KernelNorm over each window, then the convolution, fused. */
export class KNConv2d implements ParameterisedLayer {
  private readonly weight: Param;
  private readonly bias: Param;
  private readonly stride: number;
  private readonly knIndex: number;

  constructor(
    b: ModelBuilder,
    readonly path: string,
    spec: Omit<ConvSpec, 'bias'>,
    private readonly padding: Padding4,
    private readonly dropout: number,
    private readonly eps = 1e-5,
  ) {
    const { inChannels, outChannels, kernel } = spec;
    this.stride = spec.stride ?? 1;
    const fanIn = inChannels * kernel * kernel;
    const fanOut = outChannels * kernel * kernel;
    this.weight = b.param(`${path}.weight`, [kernel, kernel, inChannels, outChannels], weightInit(spec.init, fanIn, fanOut));
    this.bias = b.param(`${path}.bias`, [outChannels], biasInit(spec.init, fanIn));
    this.knIndex = b.nextKnIndex();
    b.register(this);
  }

  info(): LayerInfo {
    const k = this.weight.shape[0];
    return {
      path: this.path, kind: 'knconv', kernelSize: [k, k], stride: [this.stride, this.stride], padding: [...this.padding],
      eps: this.eps, dropout: this.dropout, weight: this.weight.variable, bias: this.bias.variable,
    };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const seed = rc.knSeed(this.knIndex);
    const out = knConv2d(x, this.weight.variable as tf.Tensor4D, this.bias.variable as tf.Tensor1D, {
      stride: this.stride, padding: this.padding, dropout: this.dropout, eps: this.eps,
      training: rc.training, seed, statsSink: rc.statsSink(this.path),
    });
    return rc.tap(this, x, out, rc.training ? seed : undefined);
  }
}

/** KernelNorm2d1x1 without parameters (the reference's `kn_f` before the classifier). */
export class KernelNorm1x1 {
  private readonly knIndex: number;

  constructor(b: ModelBuilder, readonly path: string, private readonly dropout: number, private readonly eps = 1e-5) {
    this.knIndex = b.nextKnIndex();
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    return kernelNorm2d1x1(x, {
      dropout: this.dropout, eps: this.eps, training: rc.training,
      seed: rc.knSeed(this.knIndex), statsSink: rc.statsSink(this.path),
    });
  }
}

/**
 * The reference's KNConv2d1x1: KernelNorm2d1x1 then a 1×1 conv with bias. Parameter paths follow its
 * submodule (`<path>.conv1x1.weight`); the tap sees the conv, with the normalised tensor as input.
 */
export class KNConv2d1x1 implements ParameterisedLayer {
  private readonly norm: KernelNorm1x1;
  private readonly weight: Param;
  private readonly bias: Param;

  constructor(
    b: ModelBuilder,
    readonly path: string,
    spec: { inChannels: number; outChannels: number; init: ConvInit },
    private readonly dropout: number,
    private readonly eps = 1e-5,
  ) {
    this.norm = new KernelNorm1x1(b, path, dropout, eps);
    const { inChannels, outChannels } = spec;
    this.weight = b.param(`${path}.conv1x1.weight`, [1, 1, inChannels, outChannels], weightInit(spec.init, inChannels, outChannels));
    this.bias = b.param(`${path}.conv1x1.bias`, [outChannels], biasInit(spec.init, inChannels));
    b.register(this);
  }

  info(): LayerInfo {
    return {
      path: this.path, kind: 'knconv1x1', kernelSize: [1, 1], stride: [1, 1], padding: [0, 0, 0, 0],
      eps: this.eps, dropout: this.dropout, weight: this.weight.variable, bias: this.bias.variable,
    };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const normalized = this.norm.apply(x, rc);
    const out = tf.add<tf.Tensor4D>(tf.conv2d(normalized, this.weight.variable as tf.Tensor4D, 1, 0), this.bias.variable);
    return rc.tap(this, normalized, out);
  }
}

/** nn.Linear; weight stored [in, out] so that y = x·W + b. */
export class Linear implements ParameterisedLayer {
  private readonly weight: Param;
  private readonly bias: Param;

  constructor(
    b: ModelBuilder,
    readonly path: string,
    spec: { inFeatures: number; outFeatures: number; zeroBias: boolean; init?: 'pytorch_default' | 'trunc_normal_002' },
  ) {
    const { inFeatures, outFeatures } = spec;
    const weight = spec.init === 'trunc_normal_002' ? truncatedNormal002 : pytorchDefaultUniform(inFeatures);
    this.weight = b.param(`${path}.weight`, [inFeatures, outFeatures], weight);
    this.bias = b.param(`${path}.bias`, [outFeatures], spec.zeroBias ? constantInit(0) : pytorchDefaultUniform(inFeatures));
    b.register(this);
  }

  info(): LayerInfo {
    return { path: this.path, kind: 'linear', weight: this.weight.variable, bias: this.bias.variable };
  }

  apply(x: tf.Tensor2D, rc: RunContext): tf.Tensor2D {
    const out = tf.add<tf.Tensor2D>(tf.matMul(x, this.weight.variable), this.bias.variable);
    return rc.tap(this, x, out);
  }
}

/** BatchNorm2d, GroupNorm or LayerNorm (GroupNorm with one group, as the reference builds it). */
export class Norm2d implements ParameterisedLayer {
  private readonly gamma: Param;
  private readonly beta: Param;
  private readonly running: { mean: Param; variance: Param } | null;
  readonly groups: number;

  constructor(
    b: ModelBuilder,
    readonly path: string,
    private readonly kind: 'bn' | 'gn' | 'ln',
    channels: number,
    private readonly eps = 1e-5,
  ) {
    this.gamma = b.param(`${path}.weight`, [channels], constantInit(1));
    this.beta = b.param(`${path}.bias`, [channels], constantInit(0));
    this.running = kind === 'bn'
      ? {
          mean: b.param(`${path}.running_mean`, [channels], constantInit(0), false),
          variance: b.param(`${path}.running_var`, [channels], constantInit(1), false),
        }
      : null;
    this.groups = kind === 'gn' ? groupsFor(channels, b.opts.groups) : 1;
    b.register(this);
  }

  info(): LayerInfo {
    return {
      path: this.path, kind: this.kind, eps: this.eps, groups: this.kind === 'bn' ? undefined : this.groups,
      gamma: this.gamma.variable, beta: this.beta.variable,
    };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const gamma = this.gamma.variable as tf.Tensor1D;
    const beta = this.beta.variable as tf.Tensor1D;
    const statsSink = rc.statsSink(this.path);
    let out: tf.Tensor4D;
    if (this.running) {
      out = batchNorm2d(x, gamma, beta, { mean: this.running.mean.variable, variance: this.running.variance.variable }, {
        training: rc.training, eps: this.eps, statsSink,
      });
    } else if (this.kind === 'gn') {
      out = groupNorm2d(x, gamma, beta, this.groups, { eps: this.eps, statsSink });
    } else {
      out = layerNorm2d(x, gamma, beta, { eps: this.eps, statsSink });
    }
    return rc.tap(this, x, out);
  }
}

/** The norm layer a ResNet variant uses, or null for the non-normalised ('nn', nn.Identity) variants. */
export function createNorm(b: ModelBuilder, norm: NormKind, path: string, channels: number): Norm2d | null {
  if (norm === 'nn') return null;
  if (norm === 'kn') throw new Error(`createNorm: KernelNorm is fused into KNConv2d, not a standalone norm (${path})`);
  return new Norm2d(b, path, norm, channels);
}

export function applyNorm(norm: Norm2d | null, x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
  return norm ? norm.apply(x, rc) : x;
}

/** nn.MaxPool2d; tfjs skips padded positions, which equals PyTorch's -inf padding. */
export function maxPool2d(x: tf.Tensor4D, kernel: number, stride: number, padding = 0): tf.Tensor4D {
  return tf.maxPool(x, kernel, stride, padding);
}

/** AdaptiveAvgPool2d((1, 1)) followed by flatten. */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  return tf.mean<tf.Tensor2D>(x, [1, 2]);
}
