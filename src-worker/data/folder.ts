import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { writeImage } from './augment';
import { assertIndices, iterateEpoch } from './batching';
import { byteTables, IMAGENET_STATS } from './normalization';
import { hashInts, mulberry32, STREAM } from './random';
import { randomErasing } from './random-erasing';
import { repeatedAugmentationOrder } from './repeated-augmentation';
import { evalResizeFor, randomResizedCropBox, resizeCenterCrop } from './resized-crop';
import { trivialAugmentWide } from './trivial-augment';
import { DataError, type Batch, type BatchIterationOptions, type Dataset, type RandomAccessOptions, type Split } from './types';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
const SPLIT_FOLDER: Record<Split, string> = { train: 'train', test: 'val' };

// Training streams through many distinct files once per epoch: libvips' operation cache would only hold memory.
sharp.cache(false);

interface Sample {
  file: string;
  label: number;
}

/**
 * torchvision's classification recipe options for the folder set (the ConvNeXt recipe sets all of them); each
 * absent or zero leaves today's behaviour: RandomResizedCrop(imageSize) + flip, Resize(imageSize·256/224) +
 * CenterCrop(imageSize), no auto-augment, no erasing, the plain shuffled sampler.
 */
export interface FolderRecipe {
  /** Side of the training crop (--train-crop-size); the training batches' images are this size. */
  trainCropSize?: number;
  /** Short side validation images are resized to before the centre crop of imageSize (--val-resize-size). */
  valResizeSize?: number;
  autoAugment?: 'none' | 'ta_wide';
  /** Probability of RandomErasing per training image. */
  randomErasing?: number;
  /** Repeated-augmentation sampler repetitions; 0 is the plain shuffle. */
  raReps?: number;
}

// its own stream, so the sampler's permutation never coincides with the plain shuffle's or an augmentation's
const RA_STREAM = 0x52415331;

/** Training samples one epoch yields: the repeated-augmentation sampler cuts to a multiple of 256. */
export function folderEpochLength(trainSize: number, raReps: number): number {
  return raReps > 0 ? Math.floor(trainSize / 256) * 256 : trainSize;
}

function flipHorizontal(pixels: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + (size - 1 - x)) * 3;
      const to = (y * size + x) * 3;
      out[to] = pixels[from] ?? 0;
      out[to + 1] = pixels[from + 1] ?? 0;
      out[to + 2] = pixels[from + 2] ?? 0;
    }
  }
  return out;
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
 * batch's images decode in parallel off the JS thread). Train: RandomResizedCrop(trainCropSize) + horizontal flip
 * (+ TrivialAugmentWide, random erasing), in torchvision's order; eval: Resize(valResizeSize) + CenterCrop(imageSize).
 * Without a recipe: crop imageSize and resize round(imageSize·256/224), as in the paper's ImageNet recipe.
 */
export class FolderDataset implements Dataset {
  readonly name = 'folder';
  readonly numClasses: number;
  readonly imageShape: [number, number, number];
  readonly trainSize: number;
  readonly testSize: number;
  private readonly tables: Float32Array[];
  private readonly trainCrop: number;
  private readonly valResize: number;
  private readonly recipe: Required<Pick<FolderRecipe, 'autoAugment' | 'randomErasing' | 'raReps'>>;

  private constructor(
    readonly classNames: string[],
    private readonly train: Sample[],
    private readonly test: Sample[],
    private readonly imageSize: number,
    normalize: boolean,
    recipe: FolderRecipe,
  ) {
    this.numClasses = classNames.length;
    this.imageShape = [imageSize, imageSize, 3];
    this.trainSize = train.length;
    this.testSize = test.length;
    this.tables = byteTables(3, normalize ? IMAGENET_STATS : null);
    this.trainCrop = recipe.trainCropSize ?? imageSize;
    this.valResize = recipe.valResizeSize ?? evalResizeFor(imageSize);
    this.recipe = { autoAugment: recipe.autoAugment ?? 'none', randomErasing: recipe.randomErasing ?? 0, raReps: recipe.raReps ?? 0 };
  }

  static async open(dataDir: string, opts: { normalize: boolean; imageSize?: number } & FolderRecipe): Promise<FolderDataset> {
    const imageSize = opts.imageSize ?? 224;
    for (const [name, value] of [['imageSize', imageSize], ['trainCropSize', opts.trainCropSize], ['valResizeSize', opts.valResizeSize]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new DataError(`image folder data set: ${name} must be a positive integer, got ${value}`);
    }
    if (opts.valResizeSize !== undefined && opts.valResizeSize < imageSize) {
      throw new DataError(`image folder data set: valResizeSize (${opts.valResizeSize}) must be at least imageSize (${imageSize}), the centre crop taken from it`);
    }
    const classNames = await classFolders(join(dataDir, SPLIT_FOLDER.train));
    const classIndex = new Map(classNames.map((name, i) => [name, i]));
    const train = await scanSplit(join(dataDir, SPLIT_FOLDER.train), classIndex);
    const test = await scanSplit(join(dataDir, SPLIT_FOLDER.test), classIndex);
    return new FolderDataset(classNames, train, test, imageSize, opts.normalize, opts);
  }

  batches(split: Split, opts: BatchIterationOptions): AsyncIterable<Batch> {
    const reps = this.recipe.raReps;
    if (split === 'train' && reps > 0 && (opts.shuffle ?? true)) {
      // the RA order is the epoch; iterateEpoch walks its positions in order, and each position (not the image
      // index, which repeats) keys its augmentation, so the copies of an image are augmented differently
      const order = repeatedAugmentationOrder(this.train.length, reps, mulberry32(hashInts(opts.seed, opts.epoch, RA_STREAM)));
      return iterateEpoch(split, order.length, { ...opts, shuffle: false }, (positions, augment) =>
        this.build(split, positions.map((p) => order[p] ?? 0), augment, opts.seed, opts.epoch, positions),
      );
    }
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

  /** `keys` name each image's augmentation draws (its index unless the sampler repeats indices). */
  private async build(split: Split, indices: Int32Array, augment: boolean, seed: number, epoch: number, keys: Int32Array = indices): Promise<Batch> {
    const samples = this.samplesOf(split);
    const size = augment ? this.trainCrop : this.imageSize;
    const shape: [number, number, number] = [size, size, 3];
    const imageBytes = size * size * 3;
    const x = new Float32Array(indices.length * imageBytes);
    const y = new Int32Array(indices.length);
    await Promise.all(
      Array.from(indices, async (index, b) => {
        const sample = samples[index];
        if (!sample) throw new DataError(`image folder data set: no ${split} sample ${index}`);
        y[b] = sample.label;
        const rng = augment ? mulberry32(hashInts(seed, epoch, keys[b] ?? index, STREAM.augment)) : null;
        const decoded = await this.decode(sample.file, rng, size);
        let { pixels, flip } = decoded;
        if (rng && this.recipe.autoAugment === 'ta_wide') {
          // torchvision flips before TrivialAugmentWide, whose geometric ops do not commute with a flip
          if (flip) pixels = flipHorizontal(pixels, size);
          flip = false;
          pixels = trivialAugmentWide({ width: size, height: size, data: pixels }, rng).data;
        }
        writeImage(pixels, 0, shape, x, b * imageBytes, this.tables, flip ? { dy: 0, dx: 0, flip } : null);
        // after normalisation, as torchvision's RandomErasing on the normalised tensor (erased to 0, the mean)
        if (rng && this.recipe.randomErasing > 0) randomErasing(x.subarray(b * imageBytes, (b + 1) * imageBytes), shape, rng, this.recipe.randomErasing);
      }),
    );
    return { x, y, size: indices.length, shape };
  }

  /** Decodes one file to size² RGB bytes; with an rng, through a random resized crop and a coin for the flip. */
  private async decode(file: string, rng: (() => number) | null, size: number): Promise<{ pixels: Uint8Array; flip: boolean }> {
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
        const plan = resizeCenterCrop(meta.width, meta.height, this.valResize, size);
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
