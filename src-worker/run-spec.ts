import { z } from 'zod';
import { DATASET_NAMES, field, GENERATED_DATASETS } from './run-field-meta';

/**
 * A run spec is the whole truth about a run: a worker needs nothing else to start or resume it.
 * Field names are the CLI's flags in camelCase. Presets are resolved into concrete fields before a spec is
 * handed to a worker (see train/presets.ts), so workers never interpret a preset name.
 *
 * Each field is declared once, here: type, default, description (`.describe()`) and the metadata of
 * run-field-meta.ts (CLI flag, which runs it applies to, experiment or execution). The CLI's `train` flags, the
 * sweep builder's fields, the run-detail config view and the config-group key are derived from it (run-fields.ts).
 */
export const lrScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  // cosine annealing from lr down to lr * decay over `epochs` (the paper's CIFAR recipe: decay 0.01)
  z.object({
    kind: z.literal('cosine'),
    decay: field(z.number().min(0).max(1).default(0.01), 'cosine: final lr as a fraction of lr', {
      label: 'Cosine final lr fraction', role: 'experiment', cli: { value: '<x>' },
    }),
  }),
  // lr * gamma^k after each milestone epoch (ImageNet: 30/60/90, gamma 0.1; DP recipe: 70/90, gamma 0.5)
  z.object({
    kind: z.literal('multistep'),
    milestones: field(z.array(z.number().int().positive()).default([30, 60, 90]), 'multistep: epochs, e.g. 30,60,90', {
      label: 'Milestone epochs', role: 'experiment', cli: { value: '<list>' },
    }),
    gamma: field(z.number().positive().default(0.1), 'multistep: factor at each milestone', {
      label: 'Factor at each milestone', role: 'experiment', cli: { value: '<x>' },
    }),
  }),
  // torchvision's recipe: LinearLR from lr * warmupDecay over warmupEpochs, then CosineAnnealingLR down to minLr
  z.object({
    kind: z.literal('warmup-cosine'),
    warmupEpochs: field(z.number().int().min(0).default(5), 'warmup-cosine: linear warm-up epochs', {
      label: 'Warm-up epochs', role: 'experiment', cli: {},
    }),
    warmupDecay: field(z.number().positive().max(1).default(0.01), 'warmup-cosine: lr at the first warm-up epoch as a fraction of lr', {
      label: 'Warm-up start fraction', role: 'experiment', cli: { value: '<x>' },
    }),
    minLr: field(z.number().min(0).default(0), 'warmup-cosine: final lr of the cosine', {
      label: 'Cosine minimum lr', role: 'experiment', cli: { value: '<x>' },
    }),
  }),
  // lr * (1 - t/T)^power, per step (segmentation recipe, power 0.9)
  z.object({
    kind: z.literal('poly'),
    power: field(z.number().positive().default(0.9), 'poly: exponent', { label: 'Poly exponent', role: 'experiment', cli: { value: '<x>' } }),
  }),
]);
export type LrSchedule = z.infer<typeof lrScheduleSchema>;
export const LR_SCHEDULE_KINDS = lrScheduleSchema.options.map((o) => o.shape.kind.value);

const dpOption = { role: 'experiment', scope: { dp: true } } as const;

export const dpOptionsSchema = z.object({
  targetEpsilon: field(z.number().positive().optional(), 'DP: privacy budget ε the noise is calibrated to (8 unless --noise-multiplier)', {
    ...dpOption, label: 'Target ε', cli: { value: '<x>' },
  }),
  noiseMultiplier: field(z.number().positive().optional(), 'DP: noise multiplier σ, instead of calibrating to --target-epsilon', {
    ...dpOption, label: 'Noise multiplier σ', cli: { value: '<x>' },
  }),
  delta: field(z.number().positive().lt(1).default(8e-7), 'DP: δ', { ...dpOption, label: 'δ', cli: { value: '<x>' } }),
  maxGradNorm: field(z.number().positive().default(1), 'DP: per-example clipping bound C', {
    ...dpOption, label: 'Clipping bound C', cli: { value: '<x>' },
  }),
  // q = logicalBatch / trainSize
  logicalBatch: field(z.number().int().positive(), 'DP: expected Poisson-sampled batch per step (the paper: 8192)', {
    ...dpOption, label: 'Logical batch', cli: {},
  }),
});
export type DpOptions = z.infer<typeof dpOptionsSchema>;

/**
 * Where a run computes: `auto` takes the fastest that works here (see src-worker/backend.ts); `webgpu` is Dawn's
 * WebGPU on the machine's GPU driver (a software adapter too, when asked for by name).
 */
export const backendRequestSchema = z.enum(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
export type BackendRequest = z.infer<typeof backendRequestSchema>;

export const datasetNameSchema = z.enum(DATASET_NAMES);
export type { DatasetName } from './run-field-meta';

export const runSpecSchema = z.object({
  runId: field(z.number().int().positive().optional(), 'assigned by the store; absent for a one-off `normlab train`', {
    label: 'Run id', role: 'execution', cli: false,
  }),
  model: field(z.string().min(1), 'model name from the registry (see `normlab models`)', { label: 'Model', role: 'experiment', cli: { value: '<name>' } }),
  dataset: field(datasetNameSchema, 'data set', { label: 'Data set', role: 'experiment', cli: { value: '<name>' } }),
  // cifar: the folder holding cifar-10-batches-bin/ or cifar-100-binary/ (torchvision's root); folder: train/ + val/
  dataDir: field(z.string().optional(), 'folder holding the data set (cifar: the torchvision root; run `normlab download` to fetch it)', {
    label: 'Data folder', role: 'experiment', cli: { value: '<dir>' }, scope: { exceptDatasets: [...GENERATED_DATASETS] },
  }),
  syntheticTrainSize: field(z.number().int().positive().optional(), 'built-in sets: training images', {
    label: 'Training images', role: 'experiment', cli: {}, scope: { datasets: [...GENERATED_DATASETS] },
  }),
  syntheticTestSize: field(z.number().int().positive().optional(), 'built-in sets: test images', {
    label: 'Test images', role: 'experiment', cli: {}, scope: { datasets: [...GENERATED_DATASETS] },
  }),
  // 224 in the ImageNet recipe
  imageSize: field(z.number().int().positive().optional(), 'folder: image side length', {
    label: 'Image size', role: 'experiment', cli: {}, scope: { datasets: ['folder'] },
  }),
  // torchvision's --train-crop-size: RandomResizedCrop to this side (absent: imageSize)
  trainCropSize: field(z.number().int().positive().optional(), 'folder: side of the random resized crop for training (absent: --image-size)', {
    label: 'Train crop size', role: 'experiment', cli: {}, scope: { datasets: ['folder'] }, whenUnset: 'image size',
  }),
  // torchvision's --val-resize-size: resize the short side to this, then centre-crop imageSize
  valResizeSize: field(z.number().int().positive().optional(), 'folder: short side validation images are resized to before the centre crop (absent: as today, image size / 0.875)', {
    label: 'Val resize size', role: 'experiment', cli: {}, scope: { datasets: ['folder'] }, whenUnset: 'image size / 0.875',
  }),
  autoAugment: field(z.enum(['none', 'ta_wide']).default('none'), 'folder: automatic augmentation policy (ta_wide: TrivialAugmentWide)', {
    label: 'Auto augment', role: 'experiment', cli: { value: '<name>' }, scope: { datasets: ['folder'] }, builder: true,
  }),
  randomErasing: field(z.number().min(0).max(1).default(0), 'folder: probability of random erasing per training image', {
    label: 'Random erasing', role: 'experiment', cli: { value: '<p>' }, scope: { datasets: ['folder'] }, builder: true,
  }),
  raReps: field(z.number().int().min(0).default(0), 'folder: repeated-augmentation sampler repetitions (0: off)', {
    label: 'RA repetitions', role: 'experiment', cli: {}, scope: { datasets: ['folder'] }, builder: true,
  }),
  // the paper's Cityscapes augmentation: random scale, random crop [width, height], horizontal flip
  cropSize: field(z.array(z.number().int().positive()).length(2).default([1024, 512]), 'cityscapes: training crop width,height', {
    label: 'Crop size (w,h)', role: 'experiment', cli: { value: '<w,h>' }, scope: { datasets: ['cityscapes'] },
  }),
  scaleRange: field(z.array(z.number().positive()).length(2).default([0.5, 2.0]), 'cityscapes: random scale range min,max', {
    label: 'Scale range', role: 'experiment', cli: { value: '<min,max>' }, scope: { datasets: ['cityscapes'] },
  }),
  epochs: field(z.number().int().positive(), 'training epochs', { label: 'Epochs', role: 'experiment', cli: {} }),
  batchSize: field(z.number().int().positive(), 'mini-batch size', { label: 'Batch size', role: 'experiment', cli: {} }),
  lr: field(z.number().positive(), 'base learning rate', { label: 'Learning rate', role: 'experiment', cli: { value: '<x>' } }),
  momentum: field(z.number().min(0).max(1).default(0.9), 'SGD momentum', { label: 'Momentum', role: 'experiment', cli: {}, builder: true }),
  // PyTorch's SGD flag; the paper's recipes leave it off
  nesterov: field(z.boolean().optional(), 'Nesterov momentum', { label: 'Nesterov', role: 'experiment', cli: { negatable: 'positive' }, builder: true, whenUnset: 'off' }),
  weightDecay: field(z.number().min(0).default(5e-4), 'weight decay (applied to all parameters, as the reference does)', {
    label: 'Weight decay', role: 'experiment', cli: {}, builder: true,
  }),
  // PyTorch's AdamW (decoupled weight decay); betas and eps only mean something for it
  optimizer: field(z.enum(['sgd', 'adamw']).default('sgd'), 'optimizer', { label: 'Optimizer', role: 'experiment', cli: { value: '<name>' }, builder: true }),
  adamBeta1: field(z.number().min(0).lt(1).default(0.9), 'AdamW β1', {
    label: 'AdamW β1', role: 'experiment', cli: { value: '<x>' }, scope: { optimizers: ['adamw'] },
  }),
  adamBeta2: field(z.number().min(0).lt(1).default(0.999), 'AdamW β2', {
    label: 'AdamW β2', role: 'experiment', cli: { value: '<x>' }, scope: { optimizers: ['adamw'] },
  }),
  adamEps: field(z.number().positive().default(1e-8), 'AdamW ε', {
    label: 'AdamW ε', role: 'experiment', cli: { value: '<x>' }, scope: { optimizers: ['adamw'] },
  }),
  // torchvision's --norm-weight-decay: LayerNorm/BatchNorm/GroupNorm parameters in their own group
  normWeightDecay: field(z.number().min(0).optional(), 'weight decay of normalization-layer parameters (absent: --weight-decay)', {
    label: 'Norm-layer weight decay', role: 'experiment', cli: {}, builder: true, whenUnset: 'same as weight decay',
  }),
  labelSmoothing: field(z.number().min(0).lt(1).default(0), 'label smoothing of the cross-entropy targets', {
    label: 'Label smoothing', role: 'experiment', cli: { value: '<x>' }, builder: true,
  }),
  mixupAlpha: field(z.number().min(0).default(0), 'mixup: Beta(α, α) mixing per batch (0: off)', {
    label: 'Mixup α', role: 'experiment', cli: { value: '<x>' }, builder: true,
  }),
  cutmixAlpha: field(z.number().min(0).default(0), 'cutmix: Beta(α, α) box per batch (0: off); with mixup, one of the two per batch', {
    label: 'CutMix α', role: 'experiment', cli: { value: '<x>' }, builder: true,
  }),
  // evaluated separately as test_acc_ema
  modelEma: field(z.boolean().default(false), 'keep an exponential moving average of the weights and evaluate it (test_acc_ema)', {
    label: 'Model EMA', role: 'experiment', cli: { negatable: 'positive' }, builder: true,
  }),
  // torchvision's --model-ema-decay; the trainer adjusts it to batch size and interval as the recipe does (recipe/ema.ts)
  emaDecay: field(z.number().min(0).lt(1).default(0.99998), 'EMA decay per optimizer step (torchvision adjusts it for --ema-steps)', {
    label: 'EMA decay', role: 'experiment', cli: { value: '<x>' }, scope: { modelEma: true },
  }),
  emaSteps: field(z.number().int().positive().default(32), 'update the EMA every N optimizer steps', {
    label: 'EMA every (steps)', role: 'experiment', cli: {}, scope: { modelEma: true },
  }),
  // N micro-batches of batchSize, one optimizer step; BatchNorm sees each micro-batch on its own (per-GPU BN)
  accumulate: field(z.number().int().positive().default(1), 'gradient accumulation: micro-batches of --batch-size per optimizer step', {
    label: 'Accumulate (micro-batches)', role: 'experiment', cli: { value: '<n>' }, builder: true,
  }),
  schedule: field(lrScheduleSchema.default({ kind: 'cosine', decay: 0.01 }), 'learning-rate schedule', {
    label: 'LR schedule', role: 'experiment', cli: { value: '<kind>' }, builder: true,
  }),
  seed: field(z.number().int().min(0).default(0), 'seed for model init, data order, augmentation and dropout', {
    label: 'Seed', role: 'experiment', cli: {},
  }),
  // absent: off for KernelNorm models on CIFAR (the reference feeds them raw [0, 1] images), on otherwise
  normalizeInputs: field(z.boolean().optional(), 'standardise inputs per channel (absent: on, except KernelNorm models on CIFAR, as the reference)', {
    label: 'Normalize inputs', role: 'experiment', cli: { negatable: 'both', negatedDescription: 'feed raw [0, 1] images' }, builder: true,
    whenUnset: 'auto',
  }),
  // random crop + flip for CIFAR, as in the paper
  augment: field(z.boolean().optional(), 'training-set augmentation (absent: on)', {
    label: 'Augmentation', role: 'experiment', cli: { negatable: 'negative', negatedDescription: 'no training-set augmentation' }, builder: true,
    whenUnset: 'on',
  }),
  width: field(z.number().positive().max(4).default(1), 'width multiplier of every layer (1 = the paper)', {
    label: 'Width multiplier', role: 'experiment', cli: { value: '<x>' },
  }),
  knDropout: field(z.number().min(0).lt(1).default(0.05), 'KernelNorm dropout probability', {
    label: 'KN dropout', role: 'experiment', cli: { value: '<p>' }, scope: { norms: ['kn'] }, builder: true,
  }),
  groups: field(z.number().int().positive().default(32), 'GroupNorm groups', {
    label: 'GroupNorm groups', role: 'experiment', cli: {}, scope: { norms: ['gn'] }, builder: true,
  }),
  activation: field(z.enum(['relu', 'mish']).default('relu'), 'activation (DP-SGD runs: mish unless set)', {
    label: 'Activation', role: 'experiment', cli: { value: '<name>' }, builder: true,
  }),
  // absent: from the data set (images of 64 px or less)
  lowResolution: field(z.boolean().optional(), '3x3 stem (absent: for images of 64 px or less)', {
    label: 'Low-resolution stem', role: 'experiment', cli: { negatable: 'positive' }, scope: { exceptFamilies: ['cnn', 'kn_cnn'] }, builder: true,
    whenUnset: 'auto',
  }),
  backend: field(backendRequestSchema.default('auto'), 'tfjs backend', { label: 'Backend', role: 'execution', cli: { value: '<name>' } }),
  checkpointDir: field(z.string().optional(), 'write checkpoints here', { label: 'Checkpoint folder', role: 'execution', cli: { value: '<dir>' } }),
  checkpointEvery: field(z.number().int().min(0).default(1), 'checkpoint every N epochs (0: only on cancel and at the end)', {
    label: 'Checkpoint every (epochs)', role: 'execution', cli: {},
  }),
  resume: field(z.boolean().default(false), 'continue from the newest checkpoint in --checkpoint-dir', {
    label: 'Resume', role: 'execution', cli: { negatable: 'positive' },
  }),
  // sampling statistics only reads tensors; it does not change training
  statsEvery: field(z.number().int().min(0).default(50), 'normalisation statistics every N steps (0: never)', {
    label: 'Statistics every (steps)', role: 'execution', cli: {},
  }),
  progressEvery: field(z.number().int().positive().default(10), 'progress event every N batches', {
    label: 'Progress every (batches)', role: 'execution', cli: {},
  }),
  // 10: a 1-epoch run of a few hundred steps still draws tens of points, and one point per 10 steps keeps even a
  // 100-epoch CIFAR run (~39k steps at batch 128) to ~4k rows per metric. Execution, like statsEvery: logging
  // reads the loss and changes no training, so it stays out of the group key and of a checkpoint's config hash.
  logEverySteps: field(z.number().int().min(0).default(10), 'step-level train loss and lr every N optimizer steps, each the mean over those N (0: never)', {
    label: 'Step curves every (steps)', role: 'execution', cli: {},
  }),
  // display-only: the preset's values are already resolved into the other fields
  preset: field(z.string().optional(), 'recipe to start from (cifar100-paper, imagenet-paper, dp-paper, …); explicit flags win', {
    label: 'Preset', role: 'execution', cli: { value: '<name>', helpGroup: 'run' },
  }),
  dp: field(dpOptionsSchema.optional(), 'train with DP-SGD (Poisson sampling, per-example clipping, Gaussian noise); --batch-size is the micro-batch; activation defaults to mish', {
    label: 'DP-SGD', role: 'experiment', cli: { switch: true }, scope: { dpCapable: true },
  }),
});
export type RunSpecInput = z.input<typeof runSpecSchema>;
export type RunSpec = z.output<typeof runSpecSchema>;

/** Formats zod issues as `path: message` lines, e.g. `lr: must be > 0`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}

export class RunSpecError extends Error {
  override name = 'RunSpecError';
}

export function parseRunSpec(input: unknown): RunSpec {
  const parsed = runSpecSchema.safeParse(input);
  if (!parsed.success) throw new RunSpecError(`invalid run spec:\n${formatIssues(parsed.error)}`);
  return parsed.data;
}
