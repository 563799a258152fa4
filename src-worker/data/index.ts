import { readCifarSplit, CIFAR_LAYOUTS, type CifarName } from './cifar-binary';
import { CITYSCAPES_DEFAULTS, CityscapesDataset, type SegmentationDataset } from './cityscapes/dataset';
import { FolderDataset } from './folder';
import { ImageNet32Dataset } from './imagenet32';
import { channelMoments } from './image-set';
import { InMemoryDataset } from './in-memory-dataset';
import { CIFAR100_STATS, CIFAR10_STATS, type ChannelStats } from './normalization';
import { ensureSyntheticCifar, SYNTHETIC_CLASSES, SYNTHETIC_DEFAULTS } from './synthetic';
import { openTexturedSynthetic } from './textured-synthetic';
import { DataError, type Dataset, type OpenDatasetOptions } from './types';

export type { Batch, BatchIterationOptions, Dataset, OpenDatasetOptions, RandomAccessOptions, Split } from './types';
export { DataError } from './types';
export type { SegmentationBatch, SegmentationDataset } from './cityscapes/dataset';

const CIFAR_STATS: Record<CifarName, ChannelStats> = { cifar10: CIFAR10_STATS, cifar100: CIFAR100_STATS };

function requireDataDir(opts: OpenDatasetOptions): string {
  if (!opts.dataDir) throw new DataError(`data set ${opts.dataset} needs dataDir (the folder holding its files)`);
  return opts.dataDir;
}

async function openCifar(name: CifarName, dataDir: string, normalize: boolean): Promise<Dataset> {
  const [train, test] = [await readCifarSplit(dataDir, name, 'train'), await readCifarSplit(dataDir, name, 'test')];
  return new InMemoryDataset(name, CIFAR_LAYOUTS[name].numClasses, train, test, normalize ? CIFAR_STATS[name] : null);
}

async function openSynthetic(opts: OpenDatasetOptions): Promise<Dataset> {
  const params = {
    seed: opts.syntheticSeed ?? SYNTHETIC_DEFAULTS.seed,
    trainSize: opts.syntheticTrainSize ?? SYNTHETIC_DEFAULTS.trainSize,
    testSize: opts.syntheticTestSize ?? SYNTHETIC_DEFAULTS.testSize,
  };
  const dataDir = await ensureSyntheticCifar(params, opts.cacheDir);
  const train = await readCifarSplit(dataDir, 'cifar10', 'train');
  const test = await readCifarSplit(dataDir, 'cifar10', 'test');
  // no published statistics exist for it: normalise with the training split's own
  return new InMemoryDataset('synthetic', SYNTHETIC_CLASSES, train, test, opts.normalize ? channelMoments(train) : null);
}

export async function openDataset(opts: OpenDatasetOptions): Promise<Dataset> {
  switch (opts.dataset) {
    case 'cifar10':
    case 'cifar100':
      return openCifar(opts.dataset, requireDataDir(opts), opts.normalize);
    case 'synthetic':
      return openSynthetic(opts);
    case 'synthetic-textured':
      return openTexturedSynthetic(opts);
    case 'folder':
      return FolderDataset.open(requireDataDir(opts), opts);
    case 'imagenet32':
      return ImageNet32Dataset.open(requireDataDir(opts), { normalize: opts.normalize });
    case 'cityscapes':
      throw new DataError('data set cityscapes has per-pixel labels: open it with openSegmentationDataset (for the fc_* segmentation models)');
  }
}

export interface OpenSegmentationOptions extends Pick<OpenDatasetOptions, 'dataset' | 'dataDir' | 'normalize'> {
  /** Training crop [width, height] (default 1024×512, the paper's). */
  cropSize?: [number, number];
  /** Random scale range of the training augmentation (default [0.5, 2]). */
  scaleRange?: [number, number];
}

/** The data sets whose targets are label maps; a classification set is refused by name. */
export async function openSegmentationDataset(opts: OpenSegmentationOptions): Promise<SegmentationDataset> {
  if (opts.dataset !== 'cityscapes') {
    throw new DataError(`data set ${opts.dataset} has one label per image, not per pixel; segmentation trains on cityscapes`);
  }
  return CityscapesDataset.open(requireDataDir(opts), {
    normalize: opts.normalize,
    cropSize: opts.cropSize ?? [...CITYSCAPES_DEFAULTS.cropSize],
    scaleRange: opts.scaleRange ?? [...CITYSCAPES_DEFAULTS.scaleRange],
  });
}
export { DATASETS, DATASET_NAMES, checkDataDir, datasetEntry, isDownloadable, trainSizeOf, type DataCheck, type DatasetEntry } from './registry';
