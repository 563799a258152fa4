import * as tf from '@tensorflow/tfjs';

/** A batch whose images and targets were blended: targets are probability rows, no longer integer labels. */
export interface MixedBatch {
  images: tf.Tensor4D;
  targets: tf.Tensor2D;
  /** The weight of the batch's own images and targets (after cutmix: the share of pixels left unpasted). */
  lambda: number;
  kind: 'mixup' | 'cutmix';
}

/** The partner of row i is row i − 1 (torch's `batch.roll(1, 0)`), so no extra images need loading. */
function rollByOne<T extends tf.Tensor>(x: T): T {
  const n = x.shape[0] ?? 0;
  if (n < 2) return x.clone();
  return tf.concat<T>([x.slice([n - 1]), x.slice([0], [n - 1])], 0);
}

function checkBatch(op: string, images: tf.Tensor4D, targets: tf.Tensor2D): void {
  if (images.rank !== 4 || targets.rank !== 2 || images.shape[0] !== targets.shape[0]) {
    throw new Error(`Error in ${op}: images [${images.shape}] (NHWC) and targets [${targets.shape}] must have the same batch size`);
  }
}

/** torchvision's MixUp for a given λ: x ← λ·x + (1 − λ)·roll(x), the same for the targets. */
export function mixup(images: tf.Tensor4D, targets: tf.Tensor2D, lambda: number): MixedBatch {
  checkBatch('mixup', images, targets);
  return tf.tidy(() => ({
    images: tf.add<tf.Tensor4D>(tf.mul(images, lambda), tf.mul(rollByOne(images), 1 - lambda)),
    targets: tf.add<tf.Tensor2D>(tf.mul(targets, lambda), tf.mul(rollByOne(targets), 1 - lambda)),
    lambda,
    kind: 'mixup' as const,
  }));
}

/** The pasted box of torchvision's CutMix: centre (cx, cy), half-sides ⌊r·W⌋ and ⌊r·H⌋ with r = √(1 − λ)/2. */
export function cutmixBox(height: number, width: number, lambda: number, cx: number, cy: number) {
  const r = 0.5 * Math.sqrt(1 - lambda);
  const halfW = Math.trunc(r * width);
  const halfH = Math.trunc(r * height);
  const x1 = Math.max(cx - halfW, 0);
  const y1 = Math.max(cy - halfH, 0);
  const x2 = Math.min(cx + halfW, width);
  const y2 = Math.min(cy + halfH, height);
  // the box is clipped at the border, so the targets are weighted by the area actually pasted
  const adjustedLambda = 1 - ((x2 - x1) * (y2 - y1)) / (width * height);
  return { x1, y1, x2, y2, lambda: adjustedLambda };
}

/** torchvision's CutMix for a given λ and box centre: the box of roll(x) is pasted into x. */
export function cutmix(images: tf.Tensor4D, targets: tf.Tensor2D, lambda: number, cx: number, cy: number): MixedBatch {
  checkBatch('cutmix', images, targets);
  const [, height, width] = images.shape;
  const box = cutmixBox(height, width, lambda, cx, cy);
  return tf.tidy(() => {
    const rows = tf.logicalAnd(tf.greaterEqual(tf.range(0, height), box.y1), tf.less(tf.range(0, height), box.y2));
    const cols = tf.logicalAnd(tf.greaterEqual(tf.range(0, width), box.x1), tf.less(tf.range(0, width), box.x2));
    const mask = tf.logicalAnd(rows.reshape([height, 1]), cols.reshape([1, width])).toFloat().reshape([1, height, width, 1]);
    return {
      images: tf.add<tf.Tensor4D>(tf.mul(images, tf.sub(1, mask)), tf.mul(rollByOne(images), mask)),
      targets: tf.add<tf.Tensor2D>(tf.mul(targets, box.lambda), tf.mul(rollByOne(targets), 1 - box.lambda)),
      lambda: box.lambda,
      kind: 'cutmix' as const,
    };
  });
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
function normal(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 through Gamma(shape + 1)·U^(1/shape). */
export function sampleGamma(shape: number, rng: () => number): number {
  if (!(shape > 0)) throw new Error(`Error in sampleGamma: shape must be > 0, got ${shape}`);
  if (shape < 1) return sampleGamma(shape + 1, rng) * (1 - rng()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(rng);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(α, β) as X / (X + Y) of two gamma draws. */
export function sampleBeta(alpha: number, beta: number, rng: () => number): number {
  const x = sampleGamma(alpha, rng);
  const y = sampleGamma(beta, rng);
  return x / (x + y);
}

export interface MixingOptions {
  /** Mixup's α (0 turns mixup off); the ConvNext recipe uses 0.2. */
  mixupAlpha: number;
  /** Cutmix's α (0 turns cutmix off); the ConvNext recipe uses 1.0. */
  cutmixAlpha: number;
}

/**
 * torchvision's recipe: per batch, one of the enabled transforms chosen with equal probability
 * (`RandomChoice([MixUp, CutMix])`), λ ~ Beta(α, α). `rng` must be seeded per (run, epoch, batch) so a resumed
 * epoch mixes the same way.
 */
export function mixBatch(images: tf.Tensor4D, targets: tf.Tensor2D, opts: MixingOptions, rng: () => number): MixedBatch {
  const enabled = (['mixup', 'cutmix'] as const).filter((k) => (k === 'mixup' ? opts.mixupAlpha : opts.cutmixAlpha) > 0);
  if (enabled.length === 0) throw new Error('Error in mixBatch: neither mixup nor cutmix is enabled (both α are 0)');
  const kind = enabled[Math.min(Math.floor(rng() * enabled.length), enabled.length - 1)] ?? 'mixup';
  if (kind === 'mixup') return mixup(images, targets, sampleBeta(opts.mixupAlpha, opts.mixupAlpha, rng));
  const lambda = sampleBeta(opts.cutmixAlpha, opts.cutmixAlpha, rng);
  const [, height, width] = images.shape;
  return cutmix(images, targets, lambda, Math.floor(rng() * width), Math.floor(rng() * height));
}
