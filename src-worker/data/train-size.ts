import type { DatasetName } from '../run-spec';
import { SYNTHETIC_DEFAULTS } from './synthetic';
import { TEXTURED_DEFAULTS } from './textured-synthetic';

/**
 * Training-set sizes that follow from a run spec alone, without reading any data: the synthetic set's is a spec
 * field, CIFAR's is fixed by the published files. Folder and ImageNet32 sets are counted only when opened (a copy
 * may hold a subset), so they have none here.
 */
const FIXED_TRAIN_SIZES: Partial<Record<DatasetName, number>> = { cifar10: 50_000, cifar100: 50_000 };

export interface TrainSizeFields {
  dataset: DatasetName;
  syntheticTrainSize?: number;
}

export function knownTrainSize(spec: TrainSizeFields): number | undefined {
  if (spec.dataset === 'synthetic') return spec.syntheticTrainSize ?? SYNTHETIC_DEFAULTS.trainSize;
  if (spec.dataset === 'synthetic-textured') return spec.syntheticTrainSize ?? TEXTURED_DEFAULTS.trainSize;
  return FIXED_TRAIN_SIZES[spec.dataset];
}

export interface BatchFields extends TrainSizeFields {
  batchSize: number;
  dp?: { logicalBatch: number };
}

export interface BatchProblem {
  /** The run-spec field to change. */
  field: 'batchSize' | 'dp.logicalBatch';
  /** What is wrong, without saying how a field is spelt where the spec came from (flags, sweep JSON). */
  message: string;
}

/**
 * Whether the spec's batch fits a training set of `trainSize` images. A mini-batch larger than the training set
 * would make every epoch one short batch, so the run would train with another batch size than it records. Under
 * DP-SGD the expected Poisson batch (dp.logicalBatch) is what must fit, as q = logicalBatch / trainSize is at most
 * 1; batchSize is then only the physical micro-batch the sampled batch is cut into, and a larger one goes unfilled.
 */
export function batchProblem(spec: BatchFields, trainSize: number): BatchProblem | undefined {
  const set = `the training set (${trainSize} images of ${spec.dataset})`;
  if (spec.dp) {
    if (spec.dp.logicalBatch <= trainSize) return undefined;
    return { field: 'dp.logicalBatch', message: `the DP-SGD logical batch ${spec.dp.logicalBatch} is larger than ${set}` };
  }
  if (spec.batchSize <= trainSize) return undefined;
  return { field: 'batchSize', message: `batch size ${spec.batchSize} is larger than ${set}` };
}
