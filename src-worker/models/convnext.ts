import * as tf from '@tensorflow/tfjs';
import { channelLayerNorm } from '../kn/channel-layer-norm';
import { relu } from '../kn/activations';
import type { ModelBuilder, Param, ParameterisedLayer, RunContext } from './builder';
import { constantInit, truncatedNormal002 } from './init';
import { Conv2d, globalAvgPool, KNConv2d, Linear } from './layers';
import type { Architecture, ArchitectureFactory } from './model';
import type { LayerInfo } from './types';

// torchvision's ConvNeXt (models/convnext.py) and the reference's KNConvNeXt (models/knconvnext/knconvnext.py),
// Tiny configuration. Parameter paths are the torch state_dict names: features.0 is the stem, features.1/3/5/7
// the stages, features.2/4/6 the downsampling sections, classifier.0/2 the head's norm and linear.
// KNConvNeXt differs only in its downsampling sections: ReLU + KNConv2d(2×2, stride 2, dropout 0.1, bias)
// instead of LayerNorm2d + Conv2d(2×2, stride 2); its stem, blocks and head keep their LayerNorms.
// `lowResolution` does not apply: ConvNeXt has one patchify stem for every input size (32×32 inputs end at 1×1).

const STAGES = [
  { width: 96, blocks: 3 },
  { width: 192, blocks: 3 },
  { width: 384, blocks: 9 },
  { width: 768, blocks: 3 },
] as const;
/** torchvision's convnext_tiny: stochastic depth rising linearly from 0 to 0.1 over the blocks. */
const STOCHASTIC_DEPTH = 0.1;
const LAYER_SCALE = 1e-6;
const LN_EPS = 1e-6;
const KN_DOWNSAMPLE_DROPOUT = 0.1;

/** LayerNorm over each pixel's channels (LayerNorm2d, and the blocks' channels-last nn.LayerNorm). */
class ChannelLayerNorm implements ParameterisedLayer {
  private readonly gamma: Param;
  private readonly beta: Param;

  constructor(b: ModelBuilder, readonly path: string, channels: number) {
    this.gamma = b.param(`${path}.weight`, [channels], constantInit(1));
    this.beta = b.param(`${path}.bias`, [channels], constantInit(0));
    b.register(this);
  }

  info(): LayerInfo {
    return { path: this.path, kind: 'ln', eps: LN_EPS, groups: 1, gamma: this.gamma.variable, beta: this.beta.variable };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const out = channelLayerNorm(x, this.gamma.variable as tf.Tensor1D, this.beta.variable as tf.Tensor1D, {
      eps: LN_EPS, statsSink: rc.statsSink(this.path),
    });
    return rc.tap(this, x, out);
  }
}

/** nn.Conv2d(dim, dim, 7, padding 3, groups=dim, bias): weight [7, 7, C, 1] as tfjs's depthwise filter. */
class DepthwiseConv7x7 implements ParameterisedLayer {
  private readonly weight: Param;
  private readonly bias: Param;

  constructor(b: ModelBuilder, readonly path: string, channels: number) {
    this.weight = b.param(`${path}.weight`, [7, 7, channels, 1], truncatedNormal002);
    this.bias = b.param(`${path}.bias`, [channels], constantInit(0));
    b.register(this);
  }

  info(): LayerInfo {
    return {
      path: this.path, kind: 'dwconv', kernelSize: [7, 7], stride: [1, 1], padding: [3, 3, 3, 3],
      weight: this.weight.variable, bias: this.bias.variable,
    };
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const out = tf.add<tf.Tensor4D>(tf.depthwiseConv2d(x, this.weight.variable as tf.Tensor4D, 1, 3), this.bias.variable);
    return rc.tap(this, x, out);
  }
}

/** torch's exact GELU (approximate='none'): x·Φ(x) = x/2 · (1 + erf(x/√2)). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** A Linear applied to every pixel of an NHWC map (the blocks' pointwise MLP, channels-last as in torch). */
function pointwise(linear: Linear, x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const out = linear.apply(tf.reshape<tf.Rank.R2>(x, [n * h * w, c]), rc);
  return tf.reshape<tf.Rank.R4>(out, [n, h, w, out.shape[1]]);
}

/**
 * torchvision's StochasticDepth(p, 'row'): in training each sample's residual branch is dropped with probability
 * p and the kept ones are scaled by 1/(1 − p); at evaluation it is the identity.
 */
export function stochasticDepth(x: tf.Tensor4D, p: number, training: boolean, seed: number): tf.Tensor4D {
  if (!training || p === 0) return x;
  const survival = 1 - p;
  const keep = tf.floor(tf.add(tf.randomUniform([x.shape[0], 1, 1, 1], 0, 1, 'float32', seed), survival));
  return tf.mul<tf.Tensor4D>(x, tf.div(keep, survival));
}

/** CNBlock: x + StochasticDepth(layer_scale · MLP(LN(dwconv7×7(x)))). */
class CNBlock {
  private readonly dwconv: DepthwiseConv7x7;
  private readonly norm: ChannelLayerNorm;
  private readonly expand: Linear;
  private readonly project: Linear;
  private readonly layerScale: Param;
  private readonly seedIndex: number;

  constructor(b: ModelBuilder, path: string, channels: number, private readonly dropPath: number) {
    this.dwconv = new DepthwiseConv7x7(b, `${path}.block.0`, channels);
    this.norm = new ChannelLayerNorm(b, `${path}.block.2`, channels);
    const init = 'trunc_normal_002' as const;
    this.expand = new Linear(b, `${path}.block.3`, { inFeatures: channels, outFeatures: 4 * channels, zeroBias: true, init });
    this.project = new Linear(b, `${path}.block.5`, { inFeatures: 4 * channels, outFeatures: channels, zeroBias: true, init });
    // torch stores it as [C, 1, 1]; per channel either way
    this.layerScale = b.param(`${path}.layer_scale`, [channels], constantInit(LAYER_SCALE));
    // the counter numbers every layer that draws randomness (KernelNorm dropout, stochastic depth)
    this.seedIndex = b.nextKnIndex();
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const normed = this.norm.apply(this.dwconv.apply(x, rc), rc);
    const mlp = pointwise(this.project, gelu(pointwise(this.expand, normed, rc)) as tf.Tensor4D, rc);
    const scaled = tf.mul<tf.Tensor4D>(mlp, this.layerScale.variable);
    return tf.add<tf.Tensor4D>(x, stochasticDepth(scaled, this.dropPath, rc.training, rc.knSeed(this.seedIndex)));
  }
}

interface Downsample {
  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D;
}

function layerNormDownsample(b: ModelBuilder, path: string, inC: number, outC: number): Downsample {
  const norm = new ChannelLayerNorm(b, `${path}.0`, inC);
  const conv = new Conv2d(b, `${path}.1`, { inChannels: inC, outChannels: outC, kernel: 2, stride: 2, bias: true, init: 'trunc_normal_002' });
  return { apply: (x, rc) => conv.apply(norm.apply(x, rc), rc) };
}

function kernelNormDownsample(b: ModelBuilder, path: string, inC: number, outC: number): Downsample {
  const conv = new KNConv2d(b, `${path}.1`, { inChannels: inC, outChannels: outC, kernel: 2, stride: 2, init: 'trunc_normal_002' },
    [0, 0, 0, 0], KN_DOWNSAMPLE_DROPOUT);
  // the reference's section is nn.Sequential(ReLU(), KNConv2d(…)): a plain ReLU, whatever the model's activation
  return { apply: (x, rc) => conv.apply(relu<tf.Tensor4D>(x), rc) };
}

class ConvNeXt implements Architecture {
  private readonly stem: Conv2d;
  private readonly stemNorm: ChannelLayerNorm;
  private readonly stages: CNBlock[][] = [];
  private readonly downsamples: Downsample[] = [];
  private readonly headNorm: ChannelLayerNorm;
  private readonly classifier: Linear;

  constructor(b: ModelBuilder, kernelNormalized: boolean) {
    const widths = STAGES.map((s) => b.width(s.width));
    const first = widths[0] ?? 1;
    this.stem = new Conv2d(b, 'features.0.0', { inChannels: 3, outChannels: first, kernel: 4, stride: 4, bias: true, init: 'trunc_normal_002' });
    this.stemNorm = new ChannelLayerNorm(b, 'features.0.1', first);
    const totalBlocks = STAGES.reduce((n, s) => n + s.blocks, 0);
    let blockId = 0;
    STAGES.forEach((stage, i) => {
      const width = widths[i] ?? 1;
      const blocks: CNBlock[] = [];
      for (let j = 0; j < stage.blocks; j++) {
        blocks.push(new CNBlock(b, `features.${2 * i + 1}.${j}`, width, (STOCHASTIC_DEPTH * blockId) / (totalBlocks - 1)));
        blockId++;
      }
      this.stages.push(blocks);
      const next = widths[i + 1];
      if (next !== undefined) {
        const build = kernelNormalized ? kernelNormDownsample : layerNormDownsample;
        this.downsamples.push(build(b, `features.${2 * i + 2}`, width, next));
      }
    });
    const last = widths[widths.length - 1] ?? 1;
    this.headNorm = new ChannelLayerNorm(b, 'classifier.0', last);
    this.classifier = new Linear(b, 'classifier.2', { inFeatures: last, outFeatures: b.opts.numClasses, zeroBias: true, init: 'trunc_normal_002' });
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D {
    let out = this.stemNorm.apply(this.stem.apply(x, rc), rc);
    this.stages.forEach((blocks, i) => {
      for (const block of blocks) out = block.apply(out, rc);
      const down = this.downsamples[i];
      if (down) out = down.apply(out, rc);
    });
    // avgpool, then LayerNorm2d on the 1×1 map, then flatten and the linear classifier
    const pooled = tf.reshape<tf.Rank.R4>(globalAvgPool(out), [out.shape[0], 1, 1, out.shape[3]]);
    const normed = this.headNorm.apply(pooled, rc);
    return this.classifier.apply(tf.reshape<tf.Rank.R2>(normed, [out.shape[0], out.shape[3]]), rc);
  }
}

export function convnextTiny(kernelNormalized: boolean): ArchitectureFactory {
  return (b) => new ConvNeXt(b, kernelNormalized);
}
