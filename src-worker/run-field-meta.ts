import { z } from 'zod';
import type { ModelFamily, NormKind } from './models/types';

/**
 * What the run spec's schema says about each field besides its type and default: how the CLI spells it, which
 * runs it applies to, and whether it is part of the experiment. Kept apart from run-spec.ts so the schema can
 * register its fields here and run-fields.ts can read them back without an import cycle.
 */

export const DATASET_NAMES = ['cifar10', 'cifar100', 'synthetic', 'synthetic-textured', 'folder', 'imagenet32', 'cityscapes'] as const;
/** The built-in sets, generated on first use (no dataDir; their sizes are the syntheticTrainSize/TestSize fields). */
export const GENERATED_DATASETS = ['synthetic', 'synthetic-textured'] as const;
export function isGeneratedDataset(name: string): boolean {
  return (GENERATED_DATASETS as readonly string[]).includes(name);
}
export type DatasetName = (typeof DATASET_NAMES)[number];

/**
 * Which runs a field means something for. Every listed condition must hold; a field without a scope applies to
 * every run. Fields that do not apply are still valid in a spec (a preset may set them); views leave them out.
 */
export interface FieldScope {
  /** Only models with one of these normalization layers (`groups`: GroupNorm). */
  norms?: readonly NormKind[];
  /** Not for models of these families (the toy CNNs have one stem, so `lowResolution` means nothing there). */
  exceptFamilies?: readonly ModelFamily[];
  /** Only these data sets (`syntheticTrainSize`: the synthetic set). */
  datasets?: readonly DatasetName[];
  /** Not for these data sets (`dataDir`: everything but the generated set). */
  exceptDatasets?: readonly DatasetName[];
  /** Only models DP-SGD can train (no BatchNorm: it mixes the examples of a batch). */
  dpCapable?: true;
  /** Only when the spec trains with DP-SGD. */
  dp?: true;
  /** Only with one of these optimizers (`adamBeta1`: AdamW). */
  optimizers?: readonly ('sgd' | 'adamw')[];
  /** Only when the spec keeps an EMA of the weights. */
  modelEma?: true;
}

/** How `normlab train` exposes a field. */
export interface CliFlag {
  /** Flag name without dashes; the field's name in kebab case when absent. */
  name?: string;
  /** Value placeholder in the help (`<n>`, `<dir>`); from the type when absent. */
  value?: string;
  /**
   * Booleans: `positive` gives `--flag`, `negative` only `--no-flag` (the field is on unless turned off),
   * `both` gives the two.
   */
  negatable?: 'positive' | 'negative' | 'both';
  /** The help section it is listed in, when not the one its role gives (`--preset` is about the run). */
  helpGroup?: 'run';
  /** Help text of `--no-flag`. */
  negatedDescription?: string;
  /** An object field given by a switch that turns it on (`--dp`); its own fields have their own flags. */
  switch?: true;
}

export interface RunFieldMeta {
  /** A few words for a form or table label. */
  label: string;
  /**
   * `experiment`: changes what the run measures, so it is part of the config-group key. `execution`: where or how
   * the run is executed or observed (backend, checkpoint folder, …); two specs differing only here are one run.
   */
  role: 'experiment' | 'execution';
  /** The CLI flag; `false` when the CLI has none (the store assigns runId). */
  cli: CliFlag | false;
  scope?: FieldScope;
  /** The sweep builder offers it among the training fields. */
  builder?: true;
  /** What an optional field without a default means when it is absent ("on", "from the image size"). */
  whenUnset?: string;
}

/** Every run field's metadata, keyed by its schema (zod 4 registry; `.describe()` holds the description). */
export const runFieldRegistry = z.registry<RunFieldMeta>();

/** Registers `meta` for `schema` and returns the schema, so a field is declared in one expression. */
export function field<S extends z.ZodType>(schema: S, description: string, meta: RunFieldMeta): S {
  const described = schema.describe(description);
  // add(), not register(): register() types its meta argument by the schema, which a generic S defeats
  runFieldRegistry.add(described, meta);
  return described;
}
