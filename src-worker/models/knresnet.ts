import * as tf from '@tensorflow/tfjs';
import type { ModelBuilder, RunContext } from './builder';
import {
  fromTorchPadding, globalAvgPool, KernelNorm1x1, KNConv2d, KNConv2d1x1, Linear, maxPool2d,
} from './layers';
import type { Architecture, ArchitectureFactory } from './model';

// KNResNets (reference: models/knresnet/knresnet.py). Blocks are activation-first (ReLU, then KNConv2d);
// widths are the reference's literal channel counts, scaled by the width multiplier.

type TorchPad = [number, number] | [number, number, number, number];

interface Block {
  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D;
}

export function knConv(b: ModelBuilder, path: string, inC: number, outC: number, kernel: number, padding: TorchPad, stride = 1): KNConv2d {
  return new KNConv2d(
    b, path, { inChannels: inC, outChannels: outC, kernel, stride, init: 'kaiming_fan_out' },
    fromTorchPadding(padding), b.opts.knDropout,
  );
}

/** x + conv2(act(conv1(act(x)))), 2×2 kernels: padding 1 grows the map by one, padding 0 shrinks it back. */
class ResidualBlockKN implements Block {
  private readonly conv1: KNConv2d;
  private readonly conv2: KNConv2d;

  constructor(b: ModelBuilder, path: string, channels: number, inter: number) {
    this.conv1 = knConv(b, `${path}.conv1`, channels, inter, 2, [1, 1]);
    this.conv2 = knConv(b, `${path}.conv2`, inter, channels, 2, [0, 0]);
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    const out = this.conv1.apply(rc.activation(x) as tf.Tensor4D, rc);
    return tf.add(this.conv2.apply(rc.activation(out) as tf.Tensor4D, rc), x);
  }
}

class ResidualBottleneckKN implements Block {
  private readonly conv1: KNConv2d;
  private readonly conv2: KNConv2d;
  private readonly conv3: KNConv2d;

  constructor(b: ModelBuilder, path: string, channels: number, inter: number) {
    this.conv1 = knConv(b, `${path}.conv1`, channels, inter, 2, [1, 1]);
    this.conv2 = knConv(b, `${path}.conv2`, inter, inter, 3, [1, 1]);
    this.conv3 = knConv(b, `${path}.conv3`, inter, channels, 2, [0, 0]);
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = this.conv1.apply(rc.activation(x) as tf.Tensor4D, rc);
    out = this.conv2.apply(rc.activation(out) as tf.Tensor4D, rc);
    return tf.add(this.conv3.apply(rc.activation(out) as tf.Tensor4D, rc), x);
  }
}

class ResidualBottleneckKN1x1 implements Block {
  private readonly conv1: KNConv2d1x1;
  private readonly conv2: KNConv2d;
  private readonly conv3: KNConv2d1x1;

  constructor(b: ModelBuilder, path: string, channels: number, inter: number) {
    this.conv1 = new KNConv2d1x1(b, `${path}.conv1`, { inChannels: channels, outChannels: inter, init: 'kaiming_fan_out' }, b.opts.knDropout);
    this.conv2 = knConv(b, `${path}.conv2`, inter, inter, 3, [1, 1]);
    this.conv3 = new KNConv2d1x1(b, `${path}.conv3`, { inChannels: inter, outChannels: channels, init: 'kaiming_fan_out' }, b.opts.knDropout);
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = this.conv1.apply(rc.activation(x) as tf.Tensor4D, rc);
    out = this.conv2.apply(rc.activation(out) as tf.Tensor4D, rc);
    return tf.add(this.conv3.apply(rc.activation(out) as tf.Tensor4D, rc), x);
  }
}

/** act → conv (2×2, or KNConv1x1) → 2×2/2 max-pool: changes the width and halves the resolution. */
class TransBlockKN implements Block {
  private readonly conv: KNConv2d | KNConv2d1x1;

  constructor(b: ModelBuilder, path: string, inC: number, outC: number, padding: TorchPad | '1x1') {
    this.conv = padding === '1x1'
      ? new KNConv2d1x1(b, `${path}.conv`, { inChannels: inC, outChannels: outC, init: 'kaiming_fan_out' }, b.opts.knDropout)
      : knConv(b, `${path}.conv`, inC, outC, 2, padding);
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    return maxPool2d(this.conv.apply(rc.activation(x) as tf.Tensor4D, rc), 2, 2);
  }
}

type Stage =
  | { kind: 'res' | 'bottleneck' | 'bottleneck1x1'; channels: number; inter: number; count: number }
  | { kind: 'trans'; inC: number; outC: number; padding: TorchPad | '1x1' };

export interface KNResNetConfig {
  stemWidth: number;
  stages: Stage[];
  /** KNResNet-18/34 end with max-pool + one more 2×2 KNConv; KNResNet-50 does not. */
  finalConv: { inC: number; outC: number } | null;
  features: number;
}

export function configFor(depth: 18 | 34 | 50, lowResolution: boolean): KNResNetConfig {
  const trans3Padding: TorchPad = lowResolution ? [1, 0, 1, 0] : [2, 1, 2, 1];
  switch (depth) {
    case 18:
      return {
        stemWidth: 64,
        stages: [
          { kind: 'res', channels: 64, inter: 256, count: 2 },
          { kind: 'trans', inC: 64, outC: 256, padding: [1, 0, 1, 0] },
          { kind: 'res', channels: 256, inter: 256, count: 2 },
          { kind: 'trans', inC: 256, outC: 512, padding: [0, 1, 0, 1] },
          { kind: 'res', channels: 512, inter: 512, count: 1 },
          { kind: 'trans', inC: 512, outC: 724, padding: trans3Padding },
          { kind: 'res', channels: 724, inter: 724, count: 1 },
        ],
        finalConv: { inC: 724, outC: 512 },
        features: 512,
      };
    case 34:
      return {
        stemWidth: 64,
        stages: [
          { kind: 'res', channels: 64, inter: 256, count: 4 },
          { kind: 'trans', inC: 64, outC: 256, padding: [1, 0, 1, 0] },
          { kind: 'res', channels: 256, inter: 320, count: 5 },
          { kind: 'trans', inC: 256, outC: 512, padding: [0, 1, 0, 1] },
          { kind: 'res', channels: 512, inter: 640, count: 3 },
          { kind: 'trans', inC: 512, outC: 512, padding: trans3Padding },
          { kind: 'res', channels: 512, inter: 843, count: 2 },
        ],
        finalConv: { inC: 512, outC: 512 },
        features: 512,
      };
    case 50:
      return {
        stemWidth: 256,
        stages: [
          { kind: 'bottleneck', channels: 256, inter: 64, count: 4 },
          { kind: 'trans', inC: 256, outC: 512, padding: [1, 0, 1, 0] },
          { kind: 'bottleneck', channels: 512, inter: 128, count: 5 },
          { kind: 'trans', inC: 512, outC: 810, padding: [0, 1, 0, 1] },
          { kind: 'bottleneck', channels: 810, inter: 201, count: 4 },
          { kind: 'trans', inC: 810, outC: 2048, padding: '1x1' },
          { kind: 'bottleneck1x1', channels: 2048, inter: 512, count: 2 },
        ],
        finalConv: null,
        features: 2048,
      };
  }
}

/** Stem, max-pool (ImageNet stem) and every residual/transition block: the features before the head. */
export class KNResNetBackbone {
  private readonly stem: KNConv2d;
  private readonly blocks: Block[] = [];
  /** Channels of the last stage's output. */
  readonly channels: number;

  constructor(b: ModelBuilder, cfg: KNResNetConfig, private readonly lowResolution: boolean) {
    const w = (c: number) => b.width(c);
    this.stem = lowResolution
      ? knConv(b, 'block0.0', 3, w(cfg.stemWidth), 3, [1, 1])
      : knConv(b, 'block0.0', 3, w(cfg.stemWidth), 7, [3, 3], 2);
    let resCount = 0;
    let transCount = 0;
    let channels = w(cfg.stemWidth);
    for (const stage of cfg.stages) {
      if (stage.kind === 'trans') {
        this.blocks.push(new TransBlockKN(b, `trans_block${++transCount}`, w(stage.inC), w(stage.outC), stage.padding));
        channels = w(stage.outC);
        continue;
      }
      const Block = { res: ResidualBlockKN, bottleneck: ResidualBottleneckKN, bottleneck1x1: ResidualBottleneckKN1x1 }[stage.kind];
      for (let i = 0; i < stage.count; i++) {
        this.blocks.push(new Block(b, `res_block${++resCount}`, w(stage.channels), w(stage.inter)));
      }
      channels = w(stage.channels);
    }
    this.channels = channels;
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = this.stem.apply(x, rc);
    if (!this.lowResolution) out = maxPool2d(out, 3, 2, 1);
    for (const block of this.blocks) out = block.apply(out, rc);
    return out;
  }
}

class KNResNet implements Architecture {
  private readonly backbone: KNResNetBackbone;
  private readonly finalConv: KNConv2d | null;
  private readonly knFinal: KernelNorm1x1;
  private readonly fc: Linear;

  constructor(b: ModelBuilder, cfg: KNResNetConfig, lowResolution: boolean) {
    const w = (c: number) => b.width(c);
    this.backbone = new KNResNetBackbone(b, cfg, lowResolution);
    this.finalConv = cfg.finalConv
      ? knConv(b, 'conv_block_f.conv', w(cfg.finalConv.inC), w(cfg.finalConv.outC), 2, lowResolution ? [1, 1] : [0, 0])
      : null;
    this.knFinal = new KernelNorm1x1(b, 'kn_f', Math.min(5 * b.opts.knDropout, 0.25));
    // the reference zeroes the classifier bias and leaves the weight at PyTorch's default
    this.fc = new Linear(b, 'fc', { inFeatures: w(cfg.features), outFeatures: b.opts.numClasses, zeroBias: true });
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D {
    let out = this.backbone.apply(x, rc);
    if (this.finalConv) {
      out = maxPool2d(out, 2, 2);
      out = this.finalConv.apply(rc.activation(out) as tf.Tensor4D, rc);
    }
    out = rc.activation(this.knFinal.apply(out, rc)) as tf.Tensor4D;
    return this.fc.apply(globalAvgPool(out), rc);
  }
}

export function knresnet(depth: 18 | 34 | 50): ArchitectureFactory {
  return (b) => new KNResNet(b, configFor(depth, b.opts.lowResolution), b.opts.lowResolution);
}
