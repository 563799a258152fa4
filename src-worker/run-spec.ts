import { z } from 'zod';

/**
 * A run spec is the whole truth about a run: a worker needs nothing else to start or resume it.
 * Field names are the CLI's flags in camelCase. Presets are resolved into concrete fields before a spec is
 * handed to a worker (see train/presets.ts), so workers never interpret a preset name.
 */
export const lrScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  // cosine annealing from lr down to lr * decay over `epochs` (the paper's CIFAR recipe: decay 0.01)
  z.object({ kind: z.literal('cosine'), decay: z.number().min(0).max(1).default(0.01) }),
  // lr * gamma^k after each milestone epoch (ImageNet: 30/60/90, gamma 0.1; DP recipe: 70/90, gamma 0.5)
  z.object({ kind: z.literal('multistep'), milestones: z.array(z.number().int().positive()), gamma: z.number().positive() }),
  // lr * (1 - t/T)^power, per step (segmentation recipe, power 0.9)
  z.object({ kind: z.literal('poly'), power: z.number().positive().default(0.9) }),
]);
export type LrSchedule = z.infer<typeof lrScheduleSchema>;

export const dpOptionsSchema = z.object({
  /** Target epsilon; with delta, epochs and sampling rate it calibrates the noise multiplier. */
  targetEpsilon: z.number().positive().optional(),
  /** Explicit noise multiplier sigma; used when targetEpsilon is absent. */
  noiseMultiplier: z.number().positive().optional(),
  delta: z.number().positive().lt(1).default(8e-7),
  /** Per-sample L2 clipping bound C. */
  maxGradNorm: z.number().positive().default(1),
  /** Expected logical batch size under Poisson sampling (q = logicalBatch / trainSize). */
  logicalBatch: z.number().int().positive(),
});
export type DpOptions = z.infer<typeof dpOptionsSchema>;

/**
 * Where a run computes: `auto` takes the fastest that works here (see src-worker/backend.ts); `webgpu` is Dawn's
 * WebGPU on the machine's GPU driver (a software adapter too, when asked for by name).
 */
export const backendRequestSchema = z.enum(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
export type BackendRequest = z.infer<typeof backendRequestSchema>;

export const datasetNameSchema = z.enum(['cifar10', 'cifar100', 'synthetic', 'folder', 'imagenet32']);
export type DatasetName = z.infer<typeof datasetNameSchema>;

export const runSpecSchema = z.object({
  /** Assigned by the store; absent for a one-off `normlab train`. */
  runId: z.number().int().positive().optional(),
  model: z.string().min(1),
  dataset: datasetNameSchema,
  /** Folder holding cifar-10-batches-bin/ or cifar-100-binary/ (torchvision's root), or train/ + val/. */
  dataDir: z.string().optional(),
  /** For `synthetic`: size of the generated set. */
  syntheticTrainSize: z.number().int().positive().optional(),
  syntheticTestSize: z.number().int().positive().optional(),
  /** Image side length for `folder` data sets (224 in the ImageNet recipe). */
  imageSize: z.number().int().positive().optional(),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  momentum: z.number().min(0).max(1).default(0.9),
  /** Nesterov momentum (PyTorch's SGD flag); the paper's recipes leave it off. */
  nesterov: z.boolean().optional(),
  weightDecay: z.number().min(0).default(5e-4),
  schedule: lrScheduleSchema.default({ kind: 'cosine', decay: 0.01 }),
  seed: z.number().int().min(0).default(0),
  /**
   * Standardise inputs with per-channel mean/std. Absent: off for KernelNorm models on CIFAR (the reference
   * feeds them raw [0, 1] images), on otherwise.
   */
  normalizeInputs: z.boolean().optional(),
  /** Training-set augmentation (random crop + flip for CIFAR, as in the paper); absent means on. */
  augment: z.boolean().optional(),
  /** Width multiplier applied to every layer (1 = the paper's widths). */
  width: z.number().positive().max(4).default(1),
  knDropout: z.number().min(0).lt(1).default(0.05),
  groups: z.number().int().positive().default(32),
  activation: z.enum(['relu', 'mish']).default('relu'),
  /** 3x3 stem for 32x32 inputs; defaults from the data set when absent. */
  lowResolution: z.boolean().optional(),
  backend: backendRequestSchema.default('auto'),
  checkpointDir: z.string().optional(),
  /** Write a checkpoint every N epochs (0 = only on cancel and at the end). */
  checkpointEvery: z.number().int().min(0).default(1),
  /** Resume from the latest checkpoint in checkpointDir when one exists. */
  resume: z.boolean().default(false),
  /** Sample per-layer normalization statistics every N training steps (0 = never). */
  statsEvery: z.number().int().min(0).default(50),
  /** Emit a progress event every N batches. */
  progressEvery: z.number().int().positive().default(10),
  /** Name of the preset this spec started from, kept for display only. */
  preset: z.string().optional(),
  dp: dpOptionsSchema.optional(),
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
