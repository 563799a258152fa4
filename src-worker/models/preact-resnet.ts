import * as tf from '@tensorflow/tfjs';
import type { ModelBuilder, RunContext } from './builder';
import { applyNorm, type Conv2d, createNorm, globalAvgPool, Linear, maxPool2d, type Norm2d } from './layers';
import type { Architecture, ArchitectureFactory } from './model';
import { BOTTLENECK_EXPANSION, RESNET_STAGES, resnetConv, resnetStemConv, STAGE_PLANES, type ResNetDepth } from './resnet';
import type { NormKind } from './types';

// Pre-activation ResNets (reference: models/preact_resnet/preact_resnet.py, after kuangliu/pytorch-cifar).
// Each block normalises and activates first; the projection shortcut takes that activated input.

interface Block {
  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D;
}

class PreactBlock implements Block {
  private readonly norms: (Norm2d | null)[] = [];
  private readonly convs: Conv2d[] = [];
  private readonly shortcut: Conv2d | null;

  /** Basic: 3×3 (stride) → 3×3. Bottleneck: 1×1 → 3×3 (stride) → 1×1 with 4× expansion. */
  constructor(b: ModelBuilder, path: string, inC: number, planes: number, stride: number, norm: NormKind, bottleneck: boolean) {
    const outC = bottleneck ? planes * BOTTLENECK_EXPANSION : planes;
    const convs: [number, number, number, number, number][] = bottleneck
      ? [[inC, planes, 1, 1, 0], [planes, planes, 3, stride, 1], [planes, outC, 1, 1, 0]]
      : [[inC, planes, 3, stride, 1], [planes, planes, 3, 1, 1]];
    convs.forEach(([cin, cout, kernel, s, pad], i) => {
      this.norms.push(createNorm(b, norm, `${path}.norm${i + 1}`, cin));
      this.convs.push(resnetConv(b, `${path}.conv${i + 1}`, cin, cout, kernel, s, pad));
    });
    this.shortcut = stride !== 1 || inC !== outC ? resnetConv(b, `${path}.shortcut.0`, inC, outC, 1, stride, 0) : null;
  }

  apply(x: tf.Tensor4D, rc: RunContext): tf.Tensor4D {
    let out = rc.activation(applyNorm(this.norms[0], x, rc)) as tf.Tensor4D;
    const shortcut = this.shortcut ? this.shortcut.apply(out, rc) : x;
    out = this.convs[0].apply(out, rc);
    for (let i = 1; i < this.convs.length; i++) {
      out = rc.activation(applyNorm(this.norms[i], out, rc)) as tf.Tensor4D;
      out = this.convs[i].apply(out, rc);
    }
    return tf.add(out, shortcut);
  }
}

class PreactResNet implements Architecture {
  private readonly stemConv: Conv2d;
  /** Only the ImageNet stem has norm + activation + max-pool; the low-resolution stem is a bare conv. */
  private readonly stemNorm: Norm2d | null;
  private readonly blocks: Block[] = [];
  private readonly normFinal: Norm2d | null;
  private readonly fc: Linear;

  constructor(b: ModelBuilder, depth: ResNetDepth, norm: NormKind, private readonly lowResolution: boolean) {
    const { blocks, bottleneck } = RESNET_STAGES[depth];
    let inC = b.width(64);
    this.stemConv = resnetStemConv(b, inC, lowResolution);
    this.stemNorm = lowResolution ? null : createNorm(b, norm, 'layer0.1', inC);
    const expansion = bottleneck ? BOTTLENECK_EXPANSION : 1;
    STAGE_PLANES.forEach((referencePlanes, stage) => {
      const planes = b.width(referencePlanes);
      for (let i = 0; i < blocks[stage]; i++) {
        const stride = stage > 0 && i === 0 ? 2 : 1;
        this.blocks.push(new PreactBlock(b, `layer${stage + 1}.${i}`, inC, planes, stride, norm, bottleneck));
        inC = planes * expansion;
      }
    });
    this.normFinal = createNorm(b, norm, 'norm_f', inC);
    this.fc = new Linear(b, 'fc', { inFeatures: inC, outFeatures: b.opts.numClasses, zeroBias: false });
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D {
    let out = this.stemConv.apply(x, rc);
    if (!this.lowResolution) {
      out = maxPool2d(rc.activation(applyNorm(this.stemNorm, out, rc)) as tf.Tensor4D, 3, 2, 1);
    }
    for (const block of this.blocks) out = block.apply(out, rc);
    out = rc.activation(applyNorm(this.normFinal, out, rc)) as tf.Tensor4D;
    return this.fc.apply(globalAvgPool(out), rc);
  }
}

export function preactResnet(depth: ResNetDepth, norm: NormKind): ArchitectureFactory {
  return (b) => new PreactResNet(b, depth, norm, b.opts.lowResolution);
}
