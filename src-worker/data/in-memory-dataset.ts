import { cifarCropFlip, writeImage } from './augment';
import { assertIndices, iterateEpoch, later } from './batching';
import type { ImageSet } from './image-set';
import { byteTables, type ChannelStats } from './normalization';
import type { Batch, BatchIterationOptions, Dataset, RandomAccessOptions, Split } from './types';

/**
 * A data set small enough to hold as bytes (CIFAR, synthetic): batches are built from memory with
 * CIFAR-style augmentation (4-pixel zero padding, random crop back to size, random horizontal flip).
 */
export class InMemoryDataset implements Dataset {
  readonly imageShape: [number, number, number];
  readonly trainSize: number;
  readonly testSize: number;
  private readonly tables: Float32Array[];

  constructor(
    readonly name: string,
    readonly numClasses: number,
    private readonly train: ImageSet,
    private readonly test: ImageSet,
    stats: ChannelStats | null,
    private readonly cropPadding = 4,
  ) {
    this.imageShape = train.shape;
    this.trainSize = train.count;
    this.testSize = test.count;
    this.tables = byteTables(train.shape[2], stats);
  }

  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<Batch> {
    return iterateEpoch(split, this.setOf(split).count, opts, (indices, augment) =>
      later(() => this.build(split, indices, augment, opts.seed, opts.epoch)),
    );
  }

  async getBatch(split: Split, indices: Int32Array, opts: RandomAccessOptions): Promise<Batch> {
    assertIndices(split, indices, this.setOf(split).count);
    return this.build(split, indices, opts.augment, opts.seed, opts.epoch ?? 0);
  }

  async close(): Promise<void> {}

  private setOf(split: Split): ImageSet {
    return split === 'train' ? this.train : this.test;
  }

  private build(split: Split, indices: Int32Array, augment: boolean, seed: number, epoch: number): Batch {
    const set = this.setOf(split);
    const imageSize = set.shape[0] * set.shape[1] * set.shape[2];
    const x = new Float32Array(indices.length * imageSize);
    const y = new Int32Array(indices.length);
    for (let b = 0; b < indices.length; b++) {
      const index = indices[b];
      y[b] = set.labels[index]!;
      const cropFlip = augment ? cifarCropFlip(seed, epoch, index, this.cropPadding) : null;
      writeImage(set.images, index * imageSize, set.shape, x, b * imageSize, this.tables, cropFlip);
    }
    return { x, y, size: indices.length, shape: [...set.shape] };
  }
}
