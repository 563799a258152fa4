import { readCifarSplit, CIFAR_LAYOUTS, type CifarName } from './cifar-binary';
import { FolderDataset } from './folder';
import { ImageNet32Dataset } from './imagenet32';
import { channelMoments } from './image-set';
import { InMemoryDataset } from './in-memory-dataset';
import { CIFAR100_STATS, CIFAR10_STATS, type ChannelStats } from './normalization';
import { ensureSyntheticCifar, SYNTHETIC_CLASSES, SYNTHETIC_DEFAULTS } from './synthetic';
import { DataError, type Dataset, type OpenDatasetOptions } from './types';

export type { Batch, BatchIterationOptions, Dataset, OpenDatasetOptions, RandomAccessOptions, Split } from './types';
export { DataError } from './types';

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
    case 'folder':
      return FolderDataset.open(requireDataDir(opts), opts);
    case 'imagenet32':
      return ImageNet32Dataset.open(requireDataDir(opts), { normalize: opts.normalize });
  }
}
export { DATASETS, DATASET_NAMES, checkDataDir, datasetEntry, isDownloadable, trainSizeOf, type DataCheck, type DatasetEntry } from './registry';
