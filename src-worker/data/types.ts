import type { DatasetName } from '../run-spec';

export type Split = 'train' | 'test';

/** One mini-batch, images NHWC float32, labels int32. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
}

export interface BatchIterationOptions {
  batchSize: number;
  epoch: number;
  seed: number;
  /** Default: true for 'train', false for 'test'. */
  shuffle?: boolean;
  /** Default: true for 'train', false for 'test'. */
  augment?: boolean;
  /** Default false: the last, smaller batch is yielded. */
  dropLast?: boolean;
  /** Skip the epoch's first batches, for an exact resume. */
  startBatch?: number;
  /** How many batches to keep in flight ahead of the consumer (default 3). */
  prefetch?: number;
}

export interface RandomAccessOptions {
  augment: boolean;
  seed: number;
  /** Mixed into the augmentation randomness next to seed and index (default 0). */
  epoch?: number;
}

export interface Dataset {
  name: string;
  numClasses: number;
  imageShape: [number, number, number];
  trainSize: number;
  testSize: number;
  /** One epoch, deterministic in (seed, epoch); prefetched; startBatch lets a resumed run skip what it did. */
  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<Batch>;
  /** Random access (Poisson sampling in DP-SGD). */
  getBatch(split: Split, indices: Int32Array, opts: RandomAccessOptions): Promise<Batch>;
  close(): Promise<void>;
}

export interface OpenDatasetOptions {
  dataset: DatasetName;
  dataDir?: string;
  normalize: boolean;
  /** Side length for 'folder' data sets (default 224). */
  imageSize?: number;
  syntheticTrainSize?: number;
  syntheticTestSize?: number;
  /** Seed of the generated synthetic set; independent of the run's seed so all runs see the same data (default 0). */
  syntheticSeed?: number;
  /** Root of the synthetic cache (default $XDG_CACHE_HOME/normlab or ~/.cache/normlab). */
  cacheDir?: string;
  /** The ConvNeXt recipe's folder-set options (train crop, val resize, TrivialAugmentWide, erasing, RA sampler). */
  trainCropSize?: number;
  valResizeSize?: number;
  autoAugment?: 'none' | 'ta_wide';
  randomErasing?: number;
  raReps?: number;
}

/** Bad or missing data on disk, or a bad request to a data set. Messages name the file and the problem. */
export class DataError extends Error {
  override name = 'DataError';
}
