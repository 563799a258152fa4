import type * as tf from '@tensorflow/tfjs';
import type { ModelBuilder, RunContext } from './builder';
import { Conv2d, globalAvgPool, KNConv2d, Linear, maxPool2d } from './layers';
import type { Architecture, ArchitectureFactory } from './model';

// The reference's toy network (models/toynet.py): two conv(3×3, no padding) → act → 2×2 max-pool blocks,
// global average pool, linear classifier; nothing overrides PyTorch's default initialisation.
// The reference has no KernelNorm toy net; `kn_cnn` is the same network with each nn.Conv2d replaced by a
// KNConv2d of the same shape (bias, no padding, default init, KernelNorm dropout from the options).
// `lowResolution` does not apply: the toy net has a single stem for every resolution.

const WIDTHS = [32, 64] as const;

class ToyCNN implements Architecture {
  private readonly convs: (Conv2d | KNConv2d)[] = [];
  private readonly classifier: Linear;

  constructor(b: ModelBuilder, kernelNormalized: boolean) {
    let inC = 3;
    WIDTHS.forEach((referenceWidth, i) => {
      const outC = b.width(referenceWidth);
      const path = `block${i + 1}.0`;
      const spec = { inChannels: inC, outChannels: outC, kernel: 3, init: 'pytorch_default' as const };
      this.convs.push(kernelNormalized
        ? new KNConv2d(b, path, spec, [0, 0, 0, 0], b.opts.knDropout)
        : new Conv2d(b, path, { ...spec, bias: true }));
      inC = outC;
    });
    this.classifier = new Linear(b, 'classifier', { inFeatures: inC, outFeatures: b.opts.numClasses, zeroBias: false });
  }

  forward(x: tf.Tensor4D, rc: RunContext): tf.Tensor2D {
    let out = x;
    for (const conv of this.convs) out = maxPool2d(rc.activation(conv.apply(out, rc)) as tf.Tensor4D, 2, 2);
    return this.classifier.apply(globalAvgPool(out), rc);
  }
}

export function cnn(kernelNormalized: boolean): ArchitectureFactory {
  return (b) => new ToyCNN(b, kernelNormalized);
}
