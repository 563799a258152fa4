import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { writeImage } from './augment';
import { assertIndices, iterateEpoch } from './batching';
import { byteTables, IMAGENET_STATS } from './normalization';
import { hashInts, mulberry32, STREAM } from './random';
import { evalResizeFor, randomResizedCropBox, resizeCenterCrop } from './resized-crop';
import { DataError, type Batch, type BatchIterationOptions, type Dataset, type RandomAccessOptions, type Split } from './types';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
const SPLIT_FOLDER: Record<Split, string> = { train: 'train', test: 'val' };

// Training streams through many distinct files once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

interface Sample {
  file: string;
  label: number;
}

async function listImagesRecursively(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listImagesRecursively(path)));
    else if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(path);
  }
  return files;
}

async function classFolders(splitDir: string): Promise<string[]> {
  const info = await stat(splitDir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new DataError(`image folder data set: ${splitDir} not found; expected <dataDir>/train/<class>/*.jpg|jpeg|png and <dataDir>/val/<class>/…`);
  }
  const entries = await readdir(splitDir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** ImageFolder semantics: classes are the sorted sub-folder names of train/; val/ may use a subset of them. */
async function scanSplit(splitDir: string, classIndex: Map<string, number>): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const name of await classFolders(splitDir)) {
    const label = classIndex.get(name);
    if (label === undefined) throw new DataError(`${join(splitDir, name)}: class "${name}" does not exist in the train split`);
    const files = await listImagesRecursively(join(splitDir, name));
    if (files.length === 0) throw new DataError(`${join(splitDir, name)}: no .jpg, .jpeg or .png images in class folder "${name}"`);
    for (const file of files) samples.push({ file, label });
  }
  if (samples.length === 0) throw new DataError(`${splitDir}: no class folders with images`);
  return samples;
}

/**
 * `train/<class>/*` and `val/<class>/*` decoded on demand with sharp (libvips, in libuv's thread pool, so a
 * batch's images decode in parallel off the JS thread). Train: RandomResizedCrop(imageSize) + horizontal flip;
 * eval: Resize(round(imageSize·256/224)) + CenterCrop(imageSize), as in the paper's ImageNet recipe.
 */
export class FolderDataset implements Dataset {
  readonly name = 'folder';
  readonly numClasses: number;
  readonly imageShape: [number, number, number];
  readonly trainSize: number;
  readonly testSize: number;
  private readonly tables: Float32Array[];

  private constructor(
    readonly classNames: string[],
    private readonly train: Sample[],
    private readonly test: Sample[],
    private readonly imageSize: number,
    normalize: boolean,
  ) {
    this.numClasses = classNames.length;
    this.imageShape = [imageSize, imageSize, 3];
    this.trainSize = train.length;
    this.testSize = test.length;
    this.tables = byteTables(3, normalize ? IMAGENET_STATS : null);
  }

  static async open(dataDir: string, opts: { normalize: boolean; imageSize?: number }): Promise<FolderDataset> {
    const imageSize = opts.imageSize ?? 224;
    if (!Number.isInteger(imageSize) || imageSize < 1) throw new DataError(`image folder data set: imageSize must be a positive integer, got ${imageSize}`);
    const classNames = await classFolders(join(dataDir, SPLIT_FOLDER.train));
    const classIndex = new Map(classNames.map((name, i) => [name, i]));
    const train = await scanSplit(join(dataDir, SPLIT_FOLDER.train), classIndex);
    const test = await scanSplit(join(dataDir, SPLIT_FOLDER.test), classIndex);
    return new FolderDataset(classNames, train, test, imageSize, opts.normalize);
  }

  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<Batch> {
    return iterateEpoch(split, this.samplesOf(split).length, opts, (indices, augment) => this.build(split, indices, augment, opts.seed, opts.epoch));
  }

  async getBatch(split: Split, indices: Int32Array, opts: RandomAccessOptions): Promise<Batch> {
    assertIndices(split, indices, this.samplesOf(split).length);
    return this.build(split, indices, opts.augment, opts.seed, opts.epoch ?? 0);
  }

  async close(): Promise<void> {}

  private samplesOf(split: Split): Sample[] {
    return split === 'train' ? this.train : this.test;
  }

  private async build(split: Split, indices: Int32Array, augment: boolean, seed: number, epoch: number): Promise<Batch> {
    const samples = this.samplesOf(split);
    const shape = this.imageShape;
    const imageBytes = shape[0] * shape[1] * shape[2];
    const x = new Float32Array(indices.length * imageBytes);
    const y = new Int32Array(indices.length);
    await Promise.all(
      Array.from(indices, async (index, b) => {
        const sample = samples[index];
        y[b] = sample.label;
        const rng = augment ? mulberry32(hashInts(seed, epoch, index, STREAM.augment)) : null;
        const { pixels, flip } = await this.decode(sample.file, rng);
        writeImage(pixels, 0, shape, x, b * imageBytes, this.tables, flip ? { dy: 0, dx: 0, flip } : null);
      }),
    );
    return { x, y, size: indices.length, shape: [...shape] };
  }

  /** Decodes one file to imageSize² RGB bytes; with an rng, through a random resized crop and a coin for the flip. */
  private async decode(file: string, rng: (() => number) | null): Promise<{ pixels: Uint8Array; flip: boolean }> {
    const size = this.imageSize;
    try {
      const bytes = await readFile(file);
      const meta = await sharp(bytes).metadata();
      if (!meta.width || !meta.height) throw new Error('image has no dimensions');
      let pipeline = sharp(bytes);
      let flip = false;
      if (rng) {
        const box = randomResizedCropBox(meta.width, meta.height, rng);
        flip = rng() < 0.5;
        pipeline = pipeline.extract(box).resize(size, size, { fit: 'fill', kernel: 'linear' });
      } else {
        const plan = resizeCenterCrop(meta.width, meta.height, evalResizeFor(size), size);
        pipeline = pipeline.resize(plan.width, plan.height, { fit: 'fill', kernel: 'linear' }).extract(plan.box);
      }
      const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      if (info.width !== size || info.height !== size || info.channels !== 3) {
        throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
      }
      return { pixels: data, flip };
    } catch (err) {
      throw new DataError(`${file}: cannot decode image: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
