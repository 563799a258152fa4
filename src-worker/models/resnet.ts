import * as tf from '@tensorflow/tfjs';
import type { ModelBuilder, RunContext } from './builder';
import { applyNorm, Conv2d, createNorm, globalAvgPool, Linear, maxPool2d, type Norm2d } from './layers';
import type { Architecture, ArchitectureFactory } from './model';
import type { NormKind } from './types';

// Post-activation ResNets (reference: models/resnet/resnet.py, torchvision's ResNet v1.5 with a
// low-resolution stem). Norm variants: bn, gn, ln (GroupNorm with one group) and nn (nn.Identity).

export type ResNetDepth = 18 | 34 | 50;

/** Blocks per stage and block type; shared with the pre-activation family. */
export const RESNET_STAGES: Record<ResNetDepth, { blocks: [number, number, number, number]; bottleneck: boolean }> = {
  18: { blocks: [2, 2, 2, 2], bottleneck: false },
  34: { blocks: [3, 4, 6, 3], bottleneck: false },
  50: { blocks: [3, 4, 6, 3], bottleneck: true },
};
export const STAGE_PLANES = [64, 128, 256, 512] as const;
export const BOTTLENECK_EXPANSION = 4;

/** Convolutions without bias, N(0, 2/fan_out) weights: the reference's init loop for both ResNet families. */
export function resnetConv(b: ModelBuilder, path: string, inC: number, outC: number, kernel: number, stride: number, padding: number): Conv2d {
  return new Conv2d(b, path, { inChannels: inC, outChannels: outC, kernel, stride, padding, bias: false, init: 'kaiming_fan_out' });
}

/** The stem convolution of both ResNet families: 3×3 stride 1 for 32×32 inputs, else ImageNet's 7×7 stride 2. */
export function resnetStemConv(b: ModelBuilder, outC: number, lowResolution: boolean): Conv2d {
  return lowResolution ? resnetConv(b, 'layer0.0', 3, outC, 3, 1, 1) : resnetConv(b, 'layer0.0', 3, outC, 7, 2, 3);
}

export interface Block {
  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D;
}

class Downsample {
  private readonly conv: Conv2d;
  private readonly norm: Norm2d | null;

  constructor(b: ModelBuilder, path: string, inC: number, outC: number, stride: number, norm: NormKind) {
    this.conv = resnetConv(b, `${path}.0`, inC, outC, 1, stride, 0);
    this.norm = createNorm(b, norm, `${path}.1`, outC);
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    return applyNorm(this.norm, this.conv.apply(x, rc), rc);
  }
}

export class BasicBlock implements Block {
  private readonly conv1: Conv2d;
  private readonly bn1: Norm2d | null;
  private readonly conv2: Conv2d;
  private readonly bn2: Norm2d | null;
  private readonly downsample: Downsample | null;

  constructor(b: ModelBuilder, path: string, inC: number, planes: number, stride: number, norm: NormKind) {
    this.conv1 = resnetConv(b, `${path}.conv1`, inC, planes, 3, stride, 1);
    this.bn1 = createNorm(b, norm, `${path}.bn1`, planes);
    this.conv2 = resnetConv(b, `${path}.conv2`, planes, planes, 3, 1, 1);
    this.bn2 = createNorm(b, norm, `${path}.bn2`, planes);
    this.downsample = stride !== 1 || inC !== planes ? new Downsample(b, `${path}.downsample`, inC, planes, stride, norm) : null;
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = rc.activation(applyNorm(this.bn1, this.conv1.apply(x, rc), rc)) as tf.Tensor4D;
    out = applyNorm(this.bn2, this.conv2.apply(out, rc), rc);
    const identity = this.downsample ? this.downsample.apply(x, rc) : x;
    return rc.activation(tf.add(out, identity)) as tf.Tensor4D;
  }
}

/** torchvision's Bottleneck (v1.5: the stride sits on the 3×3 conv). */
export class Bottleneck implements Block {
  private readonly conv1: Conv2d;
  private readonly bn1: Norm2d | null;
  private readonly conv2: Conv2d;
  private readonly bn2: Norm2d | null;
  private readonly conv3: Conv2d;
  private readonly bn3: Norm2d | null;
  private readonly downsample: Downsample | null;

  constructor(b: ModelBuilder, path: string, inC: number, planes: number, stride: number, norm: NormKind) {
    const outC = planes * BOTTLENECK_EXPANSION;
    this.conv1 = resnetConv(b, `${path}.conv1`, inC, planes, 1, 1, 0);
    this.bn1 = createNorm(b, norm, `${path}.bn1`, planes);
    this.conv2 = resnetConv(b, `${path}.conv2`, planes, planes, 3, stride, 1);
    this.bn2 = createNorm(b, norm, `${path}.bn2`, planes);
    this.conv3 = resnetConv(b, `${path}.conv3`, planes, outC, 1, 1, 0);
    this.bn3 = createNorm(b, norm, `${path}.bn3`, outC);
    this.downsample = stride !== 1 || inC !== outC ? new Downsample(b, `${path}.downsample`, inC, outC, stride, norm) : null;
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = rc.activation(applyNorm(this.bn1, this.conv1.apply(x, rc), rc)) as tf.Tensor4D;
    out = rc.activation(applyNorm(this.bn2, this.conv2.apply(out, rc), rc)) as tf.Tensor4D;
    out = applyNorm(this.bn3, this.conv3.apply(out, rc), rc);
    const identity = this.downsample ? this.downsample.apply(x, rc) : x;
    return rc.activation(tf.add(out, identity)) as tf.Tensor4D;
  }
}

class ResNet implements Architecture {
  private readonly stemConv: Conv2d;
  private readonly stemNorm: Norm2d | null;
  private readonly blocks: Block[] = [];
  private readonly fc: Linear;

  constructor(b: ModelBuilder, depth: ResNetDepth, norm: NormKind, private readonly lowResolution: boolean) {
    const { blocks, bottleneck } = RESNET_STAGES[depth];
    let inC = b.width(64);
    this.stemConv = resnetStemConv(b, inC, lowResolution);
    this.stemNorm = createNorm(b, norm, 'layer0.1', inC);
    const Block = bottleneck ? Bottleneck : BasicBlock;
    const expansion = bottleneck ? BOTTLENECK_EXPANSION : 1;
    STAGE_PLANES.forEach((referencePlanes, stage) => {
      const planes = b.width(referencePlanes);
      for (let i = 0; i < blocks[stage]; i++) {
        const stride = stage > 0 && i === 0 ? 2 : 1;
        this.blocks.push(new Block(b, `layer${stage + 1}.${i}`, inC, planes, stride, norm));
        inC = planes * expansion;
      }
    });
    // no init override for the classifier: PyTorch's default uniform weight and bias
    this.fc = new Linear(b, 'fc', { inFeatures: inC, outFeatures: b.opts.numClasses, zeroBias: false });
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D {
    let out = rc.activation(applyNorm(this.stemNorm, this.stemConv.apply(x, rc), rc)) as tf.Tensor4D;
    if (!this.lowResolution) out = maxPool2d(out, 3, 2, 1);
    for (const block of this.blocks) out = block.apply(out, rc);
    return this.fc.apply(globalAvgPool(out), rc);
  }
}

export function resnet(depth: ResNetDepth, norm: NormKind): ArchitectureFactory {
  return (b) => new ResNet(b, depth, norm, b.opts.lowResolution);
}
