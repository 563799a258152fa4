import * as tf from '@tensorflow/tfjs';
import type { ModelBuilder, RunContext } from './builder';
import { configFor, knConv, KNResNetBackbone } from './knresnet';
import { applyNorm, Conv2d, createNorm, KernelNorm1x1, maxPool2d, type Norm2d } from './layers';
import type { Architecture, ArchitectureFactory } from './model';
import { BasicBlock, Bottleneck, BOTTLENECK_EXPANSION, RESNET_STAGES, resnetConv, STAGE_PLANES, type Block, type ResNetDepth } from './resnet';
import type { NormKind } from './types';

// Fully convolutional ResNets for semantic segmentation. The BN/GN/LN ones are the reference's
// (models/segmentation/fc_resnet_seg*.py): torchvision's ResNet backbone (conv1/bn1, max-pool, layer1–4, output
// stride 32) without avgpool and fc, and the head `classifier` = Conv2d 3×3 (512·e → 512, no bias) + norm + ReLU +
// Dropout(0.1) + Conv2d 1×1 (512 → classes, bias). The reference returns the stride-32 logits; here they are
// upsampled bilinearly to the input size (torch's F.interpolate, align_corners=False) so loss and mIoU are per
// input pixel, as its training would have to do.
//
// The reference has no KN segmentation model. fc_knresnet* is inferred from the KNResNets and the head above:
// the KNResNet backbone up to its last stage (dropping the classification tail: max-pool + final 2×2 KNConv,
// kn_f and fc), then activation + KNConv2d 3×3 (C → 512, padding 1: the conv and its norm fused) + activation,
// KernelNorm2d1x1 (as kn_f before the classifier, same dropout), Dropout(0.1) and Conv2d 1×1 (512 → classes, bias).

const HEAD_WIDTH = 512;
const HEAD_DROPOUT = 0.1;

/** nn.Dropout in training (inverted: kept values scaled by 1/(1 − p)), the identity at evaluation. */
function dropout(x: tf.Tensor4D, rate: number, rc: RunContext, seed: number): tf.Tensor4D {
  return rc.training ? (tf.dropout(x, rate, undefined, seed) as tf.Tensor4D) : x;
}

/** torch's bilinear interpolation with align_corners=False is tfjs's with half-pixel centres. */
function upsampleTo(logits: tf.Tensor4D, input: tf.Tensor4D): tf.Tensor4D {
  const [, height, width] = input.shape;
  if (logits.shape[1] === height && logits.shape[2] === width) return logits;
  return tf.image.resizeBilinear(logits, [height, width], false, true);
}

function classifierConv(b: ModelBuilder, path: string, inC: number): Conv2d {
  // the init loop sets every Conv2d weight to kaiming normal (fan_out) and leaves this bias at PyTorch's default
  return new Conv2d(b, path, {
    inChannels: inC, outChannels: b.opts.numClasses, kernel: 1, bias: true, init: 'kaiming_fan_out', biasInit: 'pytorch_default',
  });
}

class FcResNet implements Architecture {
  private readonly stemConv: Conv2d;
  private readonly stemNorm: Norm2d | null;
  private readonly blocks: Block[] = [];
  private readonly headConv: Conv2d;
  private readonly headNorm: Norm2d | null;
  private readonly classifier: Conv2d;
  private readonly dropoutIndex: number;

  constructor(b: ModelBuilder, depth: ResNetDepth, norm: NormKind, private readonly lowResolution: boolean) {
    const { blocks, bottleneck } = RESNET_STAGES[depth];
    let inC = b.width(64);
    this.stemConv = lowResolution ? resnetConv(b, 'conv1', 3, inC, 3, 1, 1) : resnetConv(b, 'conv1', 3, inC, 7, 2, 3);
    this.stemNorm = createNorm(b, norm, 'bn1', inC);
    const BlockType = bottleneck ? Bottleneck : BasicBlock;
    const expansion = bottleneck ? BOTTLENECK_EXPANSION : 1;
    STAGE_PLANES.forEach((referencePlanes, stage) => {
      const planes = b.width(referencePlanes);
      for (let i = 0; i < (blocks[stage] ?? 0); i++) {
        this.blocks.push(new BlockType(b, `layer${stage + 1}.${i}`, inC, planes, stage > 0 && i === 0 ? 2 : 1, norm));
        inC = planes * expansion;
      }
    });
    const head = b.width(HEAD_WIDTH);
    this.headConv = resnetConv(b, 'classifier.0', inC, head, 3, 1, 1);
    this.headNorm = createNorm(b, norm, 'classifier.1', head);
    this.classifier = classifierConv(b, 'classifier.4', head);
    this.dropoutIndex = b.nextKnIndex();
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = rc.activation(applyNorm(this.stemNorm, this.stemConv.apply(x, rc), rc)) as tf.Tensor4D;
    if (!this.lowResolution) out = maxPool2d(out, 3, 2, 1);
    for (const block of this.blocks) out = block.apply(out, rc);
    out = rc.activation(applyNorm(this.headNorm, this.headConv.apply(out, rc), rc)) as tf.Tensor4D;
    out = dropout(out, HEAD_DROPOUT, rc, rc.knSeed(this.dropoutIndex));
    return upsampleTo(this.classifier.apply(out, rc), x);
  }
}

class FcKNResNet implements Architecture {
  private readonly backbone: KNResNetBackbone;
  private readonly headConv;
  private readonly headNorm: KernelNorm1x1;
  private readonly classifier: Conv2d;
  private readonly dropoutIndex: number;

  constructor(b: ModelBuilder, depth: 18 | 34 | 50, lowResolution: boolean) {
    this.backbone = new KNResNetBackbone(b, configFor(depth, lowResolution), lowResolution);
    const head = b.width(HEAD_WIDTH);
    this.headConv = knConv(b, 'classifier.0', this.backbone.channels, head, 3, [1, 1]);
    this.headNorm = new KernelNorm1x1(b, 'classifier.kn', Math.min(5 * b.opts.knDropout, 0.25));
    this.classifier = classifierConv(b, 'classifier.4', head);
    this.dropoutIndex = b.nextKnIndex();
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = this.backbone.apply(x, rc);
    out = rc.activation(this.headConv.apply(rc.activation(out) as tf.Tensor4D, rc)) as tf.Tensor4D;
    out = dropout(this.headNorm.apply(out, rc), HEAD_DROPOUT, rc, rc.knSeed(this.dropoutIndex));
    return upsampleTo(this.classifier.apply(out, rc), x);
  }
}

export function fcResnet(depth: ResNetDepth, norm: 'bn' | 'gn' | 'ln'): ArchitectureFactory {
  return (b) => new FcResNet(b, depth, norm, b.opts.lowResolution);
}

export function fcKnresnet(depth: 18 | 34 | 50): ArchitectureFactory {
  return (b) => new FcKNResNet(b, depth, b.opts.lowResolution);
}
