import type { RunSpecInput } from '../run-spec';
import { dpPaperRecipe } from './dp/plan';

/** A named recipe: the fields it fixes, merged under whatever the user sets explicitly. */
export interface Preset {
  name: string;
  description: string;
  fields: Partial<RunSpecInput>;
}

export class PresetError extends Error {
  override name = 'PresetError';
}

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
  // The DP-SGD recipe lives with the DP code (dp/plan.ts); it carries its lr / clipping search grid along.
  dpPaperRecipe,
];

/** Slot for recipes defined elsewhere (the DP-SGD recipe lives with the DP code). */
export function registerPreset(preset: Preset): void {
  const at = PRESETS.findIndex((p) => p.name === preset.name);
  if (at >= 0) PRESETS[at] = preset;
  else PRESETS.push(preset);
}

export function listPresets(): Preset[] {
  return PRESETS.map((p) => ({ ...p, fields: structuredClone(p.fields) }));
}

function withoutUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Resolves `input.preset` into concrete fields: the preset's fields first, then every field the input sets
 * explicitly (undefined counts as unset). Without a preset the input is returned as is.
 */
export function resolvePreset(input: Partial<RunSpecInput>): Partial<RunSpecInput> {
  if (input.preset === undefined) return { ...input };
  const preset = PRESETS.find((p) => p.name === input.preset);
  if (!preset) {
    const names = PRESETS.map((p) => p.name).join(', ');
    throw new PresetError(`unknown preset "${input.preset}"; valid presets: ${names}`);
  }
  return { ...structuredClone(preset.fields), ...withoutUndefined(input), preset: preset.name };
}
