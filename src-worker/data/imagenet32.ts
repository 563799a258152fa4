import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { cifarCropFlip, writeImage } from './augment';
import { assertIndices, iterateEpoch, later } from './batching';
import { byteTables, IMAGENET_STATS } from './normalization';
import { isNdArray, readPickle, type PickleValue } from './pickle';
import { DataError, type Batch, type BatchIterationOptions, type Dataset, type RandomAccessOptions, type Split } from './types';

/**
 * ImageNet32×32 (Chrabaszcz, Loshchilov & Hutter 2017) in its published "pickle" release:
 * Imagenet32_train/train_data_batch_1…10 and Imagenet32_val/val_data, each a pickled dict with 'data'
 * (uint8 [N, 3072], per row the R, G, B 32×32 planes), 'labels' (ints 1..1000) and, in train batches, 'mean'.
 *
 * Memory: the train split is 1.28M × 3072 B ≈ 3.9 GB of pixels. Training (and DP-SGD's Poisson sampling, which
 * draws indices uniformly over the whole set through getBatch) needs random access to every image, so
 * "stream the batch files in a shuffled order" would change the sampling. Instead each split is either
 *  - resident: all pixels decoded to HWC bytes in memory (fastest; costs the full size per worker process), or
 *  - on disk: labels in memory, each image read with one positioned read of its 3072 bytes from the batch file
 *    (the OS page cache holds the hot bytes once, shared by all workers on the machine).
 * A split is resident when its files total at most `residentLimitBytes` (default 1 GiB: the 154 MB val split
 * resident, the train split on disk). Both give identical batches.
 */

export const IMAGENET32_SIDE = 32;
export const IMAGENET32_PIXELS = IMAGENET32_SIDE * IMAGENET32_SIDE;
export const IMAGENET32_IMAGE_BYTES = 3 * IMAGENET32_PIXELS;
export const IMAGENET32_CLASSES = 1000;
export const IMAGENET32_LAYOUT = {
  trainFolder: 'Imagenet32_train',
  valFolder: 'Imagenet32_val',
  trainFile: (n: number) => `train_data_batch_${n}`,
  valFile: 'val_data',
  publishedTrainBatches: 10,
} as const;
const DEFAULT_RESIDENT_LIMIT = 1 << 30;
const TRAIN_BATCH_NAME = /^train_data_batch_(\d+)$/;

export interface ImageNet32Options {
  normalize: boolean;
  /** Splits whose files total more bytes than this are read from disk per image (default 1 GiB). */
  residentLimitBytes?: number;
}

/** One batch file's images: decoded in memory, or located in the file. */
interface Shard {
  path: string;
  /** Index of the shard's first image within its split. */
  start: number;
  count: number;
  labels: Int32Array;
  /** HWC bytes when resident. */
  images: Uint8Array | null;
  /** Where the CHW rows start in the file when on disk. */
  dataOffset: number;
  handle: Promise<FileHandle> | null;
}

interface DecodedBatchFile {
  /** CHW rows, a view into the file's bytes. */
  rows: Uint8Array;
  labels: Int32Array;
  count: number;
}

function layoutHint(dataDir: string): string {
  const { trainFolder, valFolder, valFile } = IMAGENET32_LAYOUT;
  return (
    `expected the ImageNet32 pickle release (Imagenet32_train.zip and Imagenet32_val.zip from https://image-net.org/download-images) ` +
    `unpacked as ${join(dataDir, trainFolder)}/train_data_batch_1 … train_data_batch_10 and ${join(dataDir, valFolder, valFile)}, ` +
    `or those files directly in ${dataDir}`
  );
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/** The train batch files, numbered 1..k without gaps, from the first candidate folder that has batch 1. */
async function findTrainFiles(dataDir: string): Promise<string[]> {
  const { trainFolder, trainFile } = IMAGENET32_LAYOUT;
  for (const dir of [join(dataDir, trainFolder), dataDir]) {
    if (!(await isFile(join(dir, trainFile(1))))) continue;
    const numbers = (await readdir(dir))
      .map((name) => TRAIN_BATCH_NAME.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const missing = numbers.findIndex((n, i) => n !== i + 1);
    if (missing >= 0) {
      throw new DataError(`${join(dir, trainFile(missing + 1))} is missing (found train_data_batch_${numbers.join(', ')}); ${layoutHint(dataDir)}`);
    }
    return numbers.map((n) => join(dir, trainFile(n)));
  }
  const npz = (await isFile(join(dataDir, trainFolder, `${trainFile(1)}.npz`))) || (await isFile(join(dataDir, `${trainFile(1)}.npz`)));
  throw new DataError(
    `ImageNet32 training data not found in ${dataDir}: ${npz ? 'found the .npz release, which NormLab does not read; ' : ''}${layoutHint(dataDir)}`,
  );
}

async function findValFile(dataDir: string): Promise<string> {
  const { valFolder, valFile } = IMAGENET32_LAYOUT;
  for (const path of [join(dataDir, valFolder, valFile), join(dataDir, valFile)]) {
    if (await isFile(path)) return path;
  }
  throw new DataError(`ImageNet32 validation data not found in ${dataDir}: ${layoutHint(dataDir)}`);
}

function labelsOf(value: PickleValue | undefined, path: string, count: number): Int32Array {
  let raw: ArrayLike<number | bigint>;
  if (Array.isArray(value)) raw = value as ArrayLike<number>;
  else if (isNdArray(value) && value.dtype === 'int64' && value.shape.length === 1) raw = value.data;
  else throw new DataError(`${path}: 'labels' must be a list of ints (or a 1-D int64 array)`);
  if (raw.length !== count) throw new DataError(`${path}: ${raw.length} labels for ${count} images`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = raw[i];
    const n = typeof label === 'bigint' ? Number(label) : label;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > IMAGENET32_CLASSES) {
      throw new DataError(`${path}: image ${i} has label ${String(label)}, expected 1..${IMAGENET32_CLASSES} (ImageNet32 labels are 1-based)`);
    }
    labels[i] = n - 1;
  }
  return labels;
}

/** Checks one unpickled batch file and returns its pixel rows and 0-based labels. */
export function decodeImageNet32Batch(bytes: Uint8Array, path: string): DecodedBatchFile {
  const root = readPickle(bytes, path);
  if (!(root instanceof Map)) throw new DataError(`${path}: the pickle holds no dict (expected {'data', 'labels', …})`);
  // the reader turns Python 2 byte-string keys into text, so 'data' finds both forms
  const entries = root;
  const data = entries.get('data');
  if (!isNdArray(data)) throw new DataError(`${path}: no 'data' array in the pickled dict`);
  if (data.dtype !== 'uint8' || data.shape.length !== 2 || data.shape[1] !== IMAGENET32_IMAGE_BYTES) {
    throw new DataError(`${path}: 'data' is ${data.dtype} [${data.shape.join(', ')}], expected uint8 [N, ${IMAGENET32_IMAGE_BYTES}]`);
  }
  const count = data.shape[0];
  return { rows: data.data as Uint8Array, labels: labelsOf(entries.get('labels'), path, count), count };
}

/** One image's R, G, B planes → interleaved HWC pixels. */
function planesToPixels(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  for (let p = 0; p < IMAGENET32_PIXELS; p++) {
    const o = dstOffset + 3 * p;
    dst[o] = src[srcOffset + p]!;
    dst[o + 1] = src[srcOffset + IMAGENET32_PIXELS + p]!;
    dst[o + 2] = src[srcOffset + 2 * IMAGENET32_PIXELS + p]!;
  }
}

async function loadSplit(paths: string[], residentLimit: number): Promise<Shard[]> {
  let total = 0;
  for (const path of paths) total += (await stat(path)).size;
  const resident = total <= residentLimit;
  const shards: Shard[] = [];
  let start = 0;
  // one file at a time, so at most one file's bytes are held beyond what we keep
  for (const path of paths) {
    const bytes = await readFile(path);
    const { rows, labels, count } = decodeImageNet32Batch(bytes, path);
    const offset = rows.byteOffset - bytes.byteOffset;
    // the Python 3 protocol-2 form re-encodes the pixels, so they are not a plain byte range of the file
    const inFile = rows.buffer === bytes.buffer && offset >= 0 && offset + rows.length <= bytes.length;
    let images: Uint8Array | null = null;
    if (resident || !inFile) {
      images = new Uint8Array(count * IMAGENET32_IMAGE_BYTES);
      for (let i = 0; i < count; i++) planesToPixels(rows, i * IMAGENET32_IMAGE_BYTES, images, i * IMAGENET32_IMAGE_BYTES);
    }
    shards.push({ path, start, count, labels, images, dataOffset: offset, handle: null });
    start += count;
  }
  return shards;
}

function sizeOf(shards: Shard[]): number {
  const last = shards[shards.length - 1];
  return last ? last.start + last.count : 0;
}

function shardOf(shards: Shard[], index: number): Shard {
  let lo = 0;
  let hi = shards.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (shards[mid].start <= index) lo = mid;
    else hi = mid - 1;
  }
  return shards[lo];
}

export class ImageNet32Dataset implements Dataset {
  readonly name = 'imagenet32';
  readonly numClasses = IMAGENET32_CLASSES;
  readonly imageShape: [number, number, number] = [IMAGENET32_SIDE, IMAGENET32_SIDE, 3];
  readonly trainSize: number;
  readonly testSize: number;
  private readonly tables: Float32Array[];

  private constructor(
    private readonly train: Shard[],
    private readonly test: Shard[],
    normalize: boolean,
    private readonly cropPadding = 4,
  ) {
    this.trainSize = sizeOf(train);
    this.testSize = sizeOf(test);
    // ImageNet32 is ImageNet down-sampled: the standard ImageNet mean/std (as for 'folder') rather than
    // statistics recomputed over 3.9 GB at every open
    this.tables = byteTables(3, normalize ? IMAGENET_STATS : null);
  }

  /** dataDir holds Imagenet32_train/ and Imagenet32_val/ (or their files directly). */
  static async open(dataDir: string, opts: ImageNet32Options): Promise<ImageNet32Dataset> {
    const limit = opts.residentLimitBytes ?? DEFAULT_RESIDENT_LIMIT;
    const trainFiles = await findTrainFiles(dataDir);
    const valFile = await findValFile(dataDir);
    const train = await loadSplit(trainFiles, limit);
    const test = await loadSplit([valFile], limit);
    return new ImageNet32Dataset(train, test, opts.normalize);
  }

  /** How many images of each split are held in memory (the rest are read from disk); for diagnostics. */
  residentImages(split: Split): number {
    return this.shardsOf(split).reduce((n, s) => n + (s.images ? s.count : 0), 0);
  }

  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<Batch> {
    return iterateEpoch(split, sizeOf(this.shardsOf(split)), opts, (indices, augment) =>
      this.build(split, indices, augment, opts.seed, opts.epoch),
    );
  }

  async getBatch(split: Split, indices: Int32Array, opts: RandomAccessOptions): Promise<Batch> {
    assertIndices(split, indices, sizeOf(this.shardsOf(split)));
    return this.build(split, indices, opts.augment, opts.seed, opts.epoch ?? 0);
  }

  async close(): Promise<void> {
    const shards = [...this.train, ...this.test];
    await Promise.all(shards.map(async (s) => (await s.handle?.catch(() => null))?.close()));
    for (const s of shards) s.handle = null;
  }

  private shardsOf(split: Split): Shard[] {
    return split === 'train' ? this.train : this.test;
  }

  private async build(split: Split, indices: Int32Array, augment: boolean, seed: number, epoch: number): Promise<Batch> {
    const pixels = await this.gather(this.shardsOf(split), indices);
    return later(() => {
      const x = new Float32Array(indices.length * IMAGENET32_IMAGE_BYTES);
      const y = new Int32Array(indices.length);
      const shards = this.shardsOf(split);
      for (let b = 0; b < indices.length; b++) {
        const index = indices[b];
        const shard = shardOf(shards, index);
        y[b] = shard.labels[index - shard.start]!;
        const cropFlip = augment ? cifarCropFlip(seed, epoch, index, this.cropPadding) : null;
        const at = b * IMAGENET32_IMAGE_BYTES;
        writeImage(pixels, at, this.imageShape, x, at, this.tables, cropFlip);
      }
      return { x, y, size: indices.length, shape: [...this.imageShape] };
    });
  }

  /** The batch's images as HWC bytes; on-disk images are read concurrently (libuv's thread pool). */
  private async gather(shards: Shard[], indices: Int32Array): Promise<Uint8Array> {
    const size = IMAGENET32_IMAGE_BYTES;
    const pixels = new Uint8Array(indices.length * size);
    const planes = new Uint8Array(indices.length * size);
    const reads: Promise<void>[] = [];
    for (let b = 0; b < indices.length; b++) {
      const shard = shardOf(shards, indices[b]);
      const local = indices[b] - shard.start;
      if (shard.images) {
        pixels.set(shard.images.subarray(local * size, (local + 1) * size), b * size);
        continue;
      }
      reads.push(
        this.handleOf(shard).then(async (handle) => {
          const { bytesRead } = await handle.read(planes, b * size, size, shard.dataOffset + local * size);
          if (bytesRead !== size) throw new DataError(`${shard.path}: image ${local} could not be read (the file is shorter than when it was opened)`);
          planesToPixels(planes, b * size, pixels, b * size);
        }),
      );
    }
    await Promise.all(reads);
    return pixels;
  }

  private handleOf(shard: Shard): Promise<FileHandle> {
    shard.handle ??= open(shard.path, 'r');
    return shard.handle;
  }
}
