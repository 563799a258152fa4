import { batchCount, epochOrder, prefetched } from '../batching';
import { byteTables, IMAGENET_STATS } from '../normalization';
import { DataError, type BatchIterationOptions, type Split } from '../types';
import { CITYSCAPES_CLASSES, NUM_CITYSCAPES_CLASSES } from './labels';
import { scanCityscapes, type CityscapesPair } from './layout';
import { augmentSample, drawAugmentation, readPair, type SegmentationSample } from './sample';

/** One mini-batch of a segmentation set: images NHWC float32, label maps [N, H, W] int32 (255 = ignore). */
export interface SegmentationBatch {
  x: Float32Array;
  labels: Int32Array;
  size: number;
  /** [H, W, C] of one image; the label map of each is [H, W]. */
  shape: [number, number, number];
}

/**
 * A data set whose targets are per-pixel labels. Kept apart from the classification `Dataset` (whose labels are
 * one per image) so neither trainer can be handed the other's batches.
 */
export interface SegmentationDataset {
  task: 'segmentation';
  name: string;
  numClasses: number;
  classNames: readonly string[];
  trainSize: number;
  testSize: number;
  /** One epoch, deterministic in (seed, epoch, index); startBatch lets a resumed run skip what it did. */
  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<SegmentationBatch>;
  close(): Promise<void>;
}

export interface CityscapesOptions {
  normalize: boolean;
  /** Training crop [width, height] (the paper's: 1024×512). */
  cropSize: [number, number];
  /** Random scale range of the training augmentation (the paper's: [0.5, 2.0]). */
  scaleRange: [number, number];
}

export const CITYSCAPES_DEFAULTS = { cropSize: [1024, 512], scaleRange: [0.5, 2] } as const;

/**
 * Cityscapes in the official layout (`leftImg8bit/{train,val}`, `gtFine/{train,val}`); its val split is the test
 * split. Train: the paper's augmentation (random scale, random crop, horizontal flip) on image and mask together;
 * test: every image at full resolution, unaugmented, in file order. Images are normalised with ImageNet's
 * statistics as the folder set is (mmsegmentation's Cityscapes pipeline uses the same ones).
 */
export class CityscapesDataset implements SegmentationDataset {
  readonly task = 'segmentation';
  readonly name = 'cityscapes';
  readonly numClasses = NUM_CITYSCAPES_CLASSES;
  readonly classNames = CITYSCAPES_CLASSES.map((c) => c.name);
  readonly trainSize: number;
  readonly testSize: number;
  private readonly tables: Float32Array[];

  private constructor(
    private readonly train: CityscapesPair[],
    private readonly test: CityscapesPair[],
    private readonly opts: CityscapesOptions,
  ) {
    this.trainSize = train.length;
    this.testSize = test.length;
    this.tables = byteTables(3, opts.normalize ? IMAGENET_STATS : null);
  }

  static async open(dataDir: string, opts: CityscapesOptions): Promise<CityscapesDataset> {
    const [cropW, cropH] = opts.cropSize;
    if (![cropW, cropH].every((v) => Number.isInteger(v) && v > 0)) {
      throw new DataError(`Cityscapes: cropSize must be two positive integers [width, height], got [${opts.cropSize.join(', ')}]`);
    }
    const [low, high] = opts.scaleRange;
    if (!(low > 0 && high >= low)) throw new DataError(`Cityscapes: scaleRange must be [low, high] with 0 < low <= high, got [${opts.scaleRange.join(', ')}]`);
    return new CityscapesDataset(await scanCityscapes(dataDir, 'train'), await scanCityscapes(dataDir, 'val'), opts);
  }

  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<SegmentationBatch> {
    const pairs = split === 'train' ? this.train : this.test;
    const shuffle = opts.shuffle ?? split === 'train';
    const augment = opts.augment ?? split === 'train';
    const count = batchCount(pairs.length, opts.batchSize, opts.dropLast ?? false);
    const start = opts.startBatch ?? 0;
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new DataError(`Cityscapes batches: batchSize must be a positive integer, got ${opts.batchSize}`);
    if (start > count) throw new DataError(`Cityscapes batches: startBatch ${start} is past the end of the epoch (${count} batches of the ${split} split)`);
    return {
      [Symbol.asyncIterator]: () => {
        const order = epochOrder(pairs.length, opts.seed, opts.epoch, shuffle);
        return prefetched(start, count, opts.prefetch ?? 2, (b) => {
          const indices = order.subarray(b * opts.batchSize, Math.min(pairs.length, (b + 1) * opts.batchSize));
          return this.build(pairs, indices, augment, opts.seed, opts.epoch);
        });
      },
    };
  }

  async close(): Promise<void> {}

  private async sample(pair: CityscapesPair, index: number, augment: boolean, seed: number, epoch: number): Promise<SegmentationSample> {
    const full = await readPair(pair);
    if (!augment) return full;
    return augmentSample(full, drawAugmentation(seed, epoch, index, this.opts.scaleRange), this.opts.cropSize);
  }

  private async build(pairs: CityscapesPair[], indices: Int32Array, augment: boolean, seed: number, epoch: number): Promise<SegmentationBatch> {
    const samples = await Promise.all(Array.from(indices, (index) => {
      const pair = pairs[index];
      if (!pair) throw new DataError(`Cityscapes: index ${index} is outside the split (0..${pairs.length - 1})`);
      return this.sample(pair, index, augment, seed, epoch);
    }));
    const first = samples[0];
    if (!first) throw new DataError('Cityscapes: an empty batch was asked for');
    const { width, height } = first;
    const pixels = width * height;
    const x = new Float32Array(samples.length * pixels * 3);
    const labels = new Int32Array(samples.length * pixels);
    samples.forEach((s, b) => {
      if (s.width !== width || s.height !== height) {
        const stems = [indices[0], indices[b]].map((i) => pairs[i ?? 0]?.stem).join(' and ');
        throw new DataError(`Cityscapes: full-resolution evaluation batches images of one size, but ${stems} are ${width}×${height} and ${s.width}×${s.height}; evaluate with batch size 1`);
      }
      const [r, g, bl] = this.tables;
      if (!r || !g || !bl) throw new Error('Cityscapes: normalisation tables missing');
      const offset = b * pixels;
      for (let i = 0; i < pixels; i++) {
        x[3 * (offset + i)] = r[s.image[3 * i] ?? 0] ?? 0;
        x[3 * (offset + i) + 1] = g[s.image[3 * i + 1] ?? 0] ?? 0;
        x[3 * (offset + i) + 2] = bl[s.image[3 * i + 2] ?? 0] ?? 0;
        labels[offset + i] = s.label[i] ?? 255;
      }
    });
    return { x, labels, size: samples.length, shape: [height, width, 3] };
  }
}
