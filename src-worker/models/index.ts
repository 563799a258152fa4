import { cnn } from './cnn';
import { convnextTiny } from './convnext';
import { knresnet } from './knresnet';
import { buildModel, describeArchitecture, type ArchitectureFactory } from './model';
import { resolveModelOptions } from './options';
import { preactResnet } from './preact-resnet';
import { resnet, type ResNetDepth } from './resnet';
import { fcKnresnet, fcResnet } from './segmentation';
import type { ModelDescription, ModelInfo, ModelOptions, NormKind, NormLabModel } from './types';

export type * from './types';

// The one list of model names: the UI's model picker and the CLI's --model both read it through listModels().

interface RegistryEntry {
  info: ModelInfo;
  build: ArchitectureFactory;
}

const NORM_NAMES: Record<Exclude<NormKind, 'kn'>, string> = {
  bn: 'BatchNorm', gn: 'GroupNorm', ln: 'LayerNorm', nn: 'no normalisation',
};
const DEPTHS: ResNetDepth[] = [18, 34, 50];

function buildRegistry(): Map<string, RegistryEntry> {
  const entries: RegistryEntry[] = [];
  for (const depth of DEPTHS) {
    entries.push({
      info: { name: `knresnet${depth}`, family: 'knresnet', norm: 'kn', depth,
        description: `${depth}-layer kernel-normalised ResNet (KNConv2d, no BatchNorm)` },
      build: knresnet(depth),
    });
  }
  for (const depth of DEPTHS) {
    for (const norm of ['bn', 'gn', 'ln', 'nn'] as const) {
      entries.push({
        info: { name: `resnet${depth}_${norm}`, family: 'resnet', norm, depth,
          description: `ResNet-${depth} with ${NORM_NAMES[norm]}` },
        build: resnet(depth, norm),
      });
    }
  }
  for (const depth of DEPTHS) {
    for (const norm of ['bn', 'gn', 'ln', 'nn'] as const) {
      entries.push({
        info: { name: `preact_resnet${depth}_${norm}`, family: 'preact_resnet', norm, depth,
          description: `pre-activation ResNet-${depth} with ${NORM_NAMES[norm]}` },
        build: preactResnet(depth, norm),
      });
    }
  }
  entries.push({
    info: { name: 'cnn', family: 'cnn', norm: 'nn', description: 'two-layer toy CNN (reference toynet)' },
    build: cnn(false),
  });
  entries.push({
    info: { name: 'kn_cnn', family: 'kn_cnn', norm: 'kn', description: 'two-layer toy CNN with KNConv2d layers' },
    build: cnn(true),
  });
  entries.push({
    info: { name: 'convnext_tiny', family: 'convnext', norm: 'ln',
      description: "ConvNeXt-Tiny (torchvision's; LayerNorm over channels)" },
    build: convnextTiny(false),
  });
  entries.push({
    info: { name: 'knconvnext_tiny', family: 'knconvnext', norm: 'kn',
      description: 'ConvNeXt-Tiny with KNConv2d downsampling (the reference\'s KNConvNeXt)' },
    build: convnextTiny(true),
  });
  for (const depth of DEPTHS) {
    for (const norm of ['bn', 'gn', 'ln'] as const) {
      entries.push({
        info: { name: `fc_resnet${depth}_${norm}`, family: 'fc_resnet', norm, depth, task: 'segmentation',
          description: `fully convolutional ResNet-${depth} with ${NORM_NAMES[norm]} (semantic segmentation)` },
        build: fcResnet(depth, norm),
      });
    }
  }
  for (const depth of DEPTHS) {
    entries.push({
      info: { name: `fc_knresnet${depth}`, family: 'fc_knresnet', norm: 'kn', depth, task: 'segmentation',
        description: `fully convolutional KNResNet-${depth} (semantic segmentation)` },
      build: fcKnresnet(depth),
    });
  }
  return new Map(entries.map((e) => [e.info.name, e]));
}

const REGISTRY = buildRegistry();

function entryFor(name: string, caller: string): RegistryEntry {
  const entry = typeof name === 'string' ? REGISTRY.get(name) : undefined;
  if (!entry) {
    throw new Error(`${caller}: unknown model "${String(name)}"; known models: ${[...REGISTRY.keys()].join(', ')}`);
  }
  return entry;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Registered models, in registry order; `pattern` is a case-insensitive glob (`*`, `?`), e.g. 'resnet*'. */
export function listModels(pattern?: string): ModelInfo[] {
  if (pattern !== undefined && typeof pattern !== 'string') {
    throw new Error(`listModels: pattern must be a glob string, got ${String(pattern)}`);
  }
  const matches = pattern === undefined ? () => true : (name: string) => globToRegExp(pattern).test(name);
  return [...REGISTRY.values()].filter((e) => matches(e.info.name)).map((e) => ({ ...e.info }));
}

export function createModel(name: string, opts: ModelOptions): NormLabModel {
  const entry = entryFor(name, 'createModel');
  return buildModel({ ...entry.info }, resolveModelOptions(`createModel(${name})`, opts), entry.build);
}

/** Parameter paths, shapes and the trainable count, without allocating any tensor. */
export function describeModel(name: string, opts: ModelOptions): ModelDescription {
  const entry = entryFor(name, 'describeModel');
  return describeArchitecture({ ...entry.info }, resolveModelOptions(`describeModel(${name})`, opts), entry.build);
}
