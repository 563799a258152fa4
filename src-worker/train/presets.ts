import type { DpOptions, RunSpecInput } from '../run-spec';

/**
 * Recipes and the domain defaults that depend on other fields, in one place for every front end: `normlab train`,
 * sweep expansion (and through it the sweep builder's preview) and the worker all resolve a spec through
 * resolvePreset. Pure data and functions (no DP maths, no Node), so the renderer can use it too.
 */

/** A named recipe: the fields it fixes, merged under whatever the user sets explicitly. */
export interface Preset {
  name: string;
  description: string;
  fields: Partial<RunSpecInput>;
}

export interface DpRecipe extends Preset {
  /** Values the paper searched over; `fields` holds the first of each. */
  grid: { lr: number[]; maxGradNorm: number[] };
}

export class PresetError extends Error {
  override name = 'PresetError';
}

/** The paper's privacy budget, used when DP-SGD is asked for without a budget or a noise multiplier. */
export const DP_PAPER_EPSILON = 8;

/**
 * The paper's DP-SGD recipe (KernelNorm, TMLR 2024, DP experiments on CIFAR-10): SGD without momentum or
 * weight decay, lr ∈ {2, 3, 4} halved at epochs 70 and 90, 100 epochs, clipping C ∈ {1, 2}, logical batch
 * 8192 (Poisson), (ε, δ) = (8, 8e-7), Mish activations. `batchSize` is the physical micro-batch only.
 * KN dropout is 0: its masks would have to be replayed to compute per-sample gradients (layer-grads.ts).
 */
export const dpPaperRecipe: DpRecipe = {
  name: 'dp-paper',
  description:
    'DP-SGD recipe of the paper: ε=8, δ=8e-7, logical batch 8192 (Poisson), clip 1, SGD lr 2 without momentum or weight decay, halved at epochs 70/90, 100 epochs, Mish',
  fields: {
    dataset: 'cifar10',
    model: 'knresnet18',
    epochs: 100,
    batchSize: 128,
    lr: 2,
    momentum: 0,
    weightDecay: 0,
    schedule: { kind: 'multistep', milestones: [70, 90], gamma: 0.5 },
    activation: 'mish',
    knDropout: 0,
    lowResolution: true,
    dp: { targetEpsilon: DP_PAPER_EPSILON, delta: 8e-7, maxGradNorm: 1, logicalBatch: 8192 },
  },
  grid: { lr: [2, 3, 4], maxGradNorm: [1, 2] },
};

// From the reference's reproducibility/run-cifar100.sh (cosine over all 150 epochs down to lr * 0.01) and
// the ImageNet recipe of torchvision's reference script used by simulate_multi_gpu.py.
const PRESETS: Preset[] = [
  {
    name: 'cifar100-paper',
    description: 'CIFAR-100 recipe of the paper: 150 epochs, SGD momentum 0.9, wd 5e-4, batch 32, cosine to lr*0.01 (lr is tuned per model; 0.1 by default)',
    fields: {
      dataset: 'cifar100',
      epochs: 150,
      batchSize: 32,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 5e-4,
      schedule: { kind: 'cosine', decay: 0.01 },
      lowResolution: true,
    },
  },
  {
    name: 'imagenet-paper',
    description: 'ImageNet recipe of the paper: 100 epochs, batch 256, lr 0.1 divided by 10 at epochs 30/60/90, wd 1e-4, momentum 0.9, 224x224',
    fields: {
      dataset: 'folder',
      imageSize: 224,
      epochs: 100,
      batchSize: 256,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      schedule: { kind: 'multistep', milestones: [30, 60, 90], gamma: 0.1 },
      lowResolution: false,
    },
  },
  {
    // the reference's reproducibility/convnext.sh: torchvision's classification recipe for ConvNeXt
    name: 'convnext-paper',
    description:
      'ConvNeXt recipe of the paper (torchvision): AdamW lr 1e-3 at batch 256, wd 0.05 (none on norm layers), 5 warm-up epochs then cosine, ' +
      'label smoothing 0.1, mixup 0.2, cutmix 1.0, TrivialAugmentWide, random erasing 0.1, EMA, train crop 176, val resize 232 / crop 224, ' +
      'repeated augmentation ×4, 600 epochs',
    fields: {
      dataset: 'folder',
      model: 'convnext_tiny',
      imageSize: 224,
      trainCropSize: 176,
      valResizeSize: 232,
      epochs: 600,
      batchSize: 256,
      lr: 1e-3,
      optimizer: 'adamw',
      weightDecay: 0.05,
      normWeightDecay: 0,
      schedule: { kind: 'warmup-cosine', warmupEpochs: 5, warmupDecay: 0.01, minLr: 0 },
      labelSmoothing: 0.1,
      mixupAlpha: 0.2,
      cutmixAlpha: 1.0,
      autoAugment: 'ta_wide',
      randomErasing: 0.1,
      modelEma: true,
      emaDecay: 0.99998,
      emaSteps: 32,
      raReps: 4,
      lowResolution: false,
    },
  },
  {
    // the paper's segmentation setting: 2 GPUs × 8 (one GPU: batch 8 accumulated twice)
    name: 'cityscapes-paper',
    description: 'Cityscapes recipe of the paper: SGD lr 0.01, momentum 0.9, wd 5e-4, poly decay power 0.9, 500 epochs, batch 16 as 8 × --accumulate 2, crop 1024x512, scale 0.5–2.0',
    fields: {
      dataset: 'cityscapes',
      epochs: 500,
      batchSize: 8,
      accumulate: 2,
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      schedule: { kind: 'poly', power: 0.9 },
      cropSize: [1024, 512],
      scaleRange: [0.5, 2.0],
    },
  },
  dpPaperRecipe,
];

/** Slot for recipes defined elsewhere; a preset of the same name is replaced. */
export function registerPreset(preset: Preset): void {
  const at = PRESETS.findIndex((p) => p.name === preset.name);
  if (at >= 0) PRESETS[at] = preset;
  else PRESETS.push(preset);
}

export function listPresets(): Preset[] {
  return PRESETS.map((p) => ({ ...p, fields: structuredClone(p.fields) }));
}

/** The preset's fields (a copy); PresetError naming the valid presets when there is none of that name. */
export function presetFields(name: string): Partial<RunSpecInput> {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) {
    const names = PRESETS.map((p) => p.name).join(', ');
    throw new PresetError(`unknown preset "${name}"; valid presets: ${names}`);
  }
  return structuredClone(preset.fields);
}

function withoutUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * DP options given over a preset's refine them rather than replace them: `--max-grad-norm 2` over dp-paper keeps
 * its ε, δ and logical batch. A noise multiplier given directly replaces the preset's budget (with both set the
 * budget would win and the given σ would be ignored).
 */
export function mergeDpOptions(under: Partial<DpOptions> | undefined, over: Partial<DpOptions> | undefined): Partial<DpOptions> | undefined {
  if (!over) return under && { ...under };
  if (!under) return { ...over };
  const merged = { ...under, ...withoutUndefined(over) };
  if (over.noiseMultiplier !== undefined && over.targetEpsilon === undefined) delete merged.targetEpsilon;
  return merged;
}

/**
 * Defaults that follow from other fields, applied once everything else is merged: a DP-SGD run trains with Mish
 * (the paper's DP experiments) unless an activation is set, and spends the paper's ε = 8 unless a budget or a
 * noise multiplier is given.
 */
export function withImpliedDefaults(input: Partial<RunSpecInput>): Partial<RunSpecInput> {
  if (!input.dp) return input;
  const out = { ...input, dp: { ...input.dp } };
  if (out.activation === undefined) out.activation = 'mish';
  if (out.dp.targetEpsilon === undefined && out.dp.noiseMultiplier === undefined) out.dp.targetEpsilon = DP_PAPER_EPSILON;
  return out;
}

/**
 * Resolves `input.preset` into concrete fields: the preset's fields first, then every field the input sets
 * explicitly (undefined counts as unset; dp options refine the preset's), then the implied defaults. Without a
 * preset only the implied defaults are added.
 */
export function resolvePreset(input: Partial<RunSpecInput>): Partial<RunSpecInput> {
  if (input.preset === undefined) return withImpliedDefaults({ ...input });
  const fields = presetFields(input.preset);
  const merged: Partial<RunSpecInput> = { ...fields, ...withoutUndefined(input), preset: input.preset };
  const dp = mergeDpOptions(fields.dp, input.dp);
  if (dp) merged.dp = dp as RunSpecInput['dp'];
  return withImpliedDefaults(merged);
}
