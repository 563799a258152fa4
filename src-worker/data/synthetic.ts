import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CIFAR_IMAGE_BYTES, CIFAR_LAYOUTS, CIFAR_SIDE, encodeCifar10Records, missingCifarFiles } from './cifar-binary';
import type { ImageSet } from './image-set';
import { hashInts, mulberry32, STREAM } from './random';
import { DataError, type Split } from './types';

/**
 * A built-in 10-class image set for demos and CI. Each class owns a two-colour texture (a product of two
 * low-frequency gratings with class-specific wave vectors) that appears as a soft blob at a random place,
 * with a random phase, over a random background, with colour jitter, occluding distractor shapes and
 * pixel noise. Colour alone only partly separates the classes; the texture's orientation and frequency
 * do the rest, which is what a small CNN learns in an epoch or two.
 */
export interface SyntheticParams {
  seed: number;
  trainSize: number;
  testSize: number;
}

export const SYNTHETIC_CLASSES = 10;
export const SYNTHETIC_DEFAULTS = { trainSize: 5000, testSize: 1000, seed: 0 } as const;
/** Bump when the generator changes, so stale caches are never reused. */
const GENERATOR_VERSION = 1;

interface ClassStyle {
  colourA: [number, number, number];
  colourB: [number, number, number];
  wave1: [number, number];
  wave2: [number, number];
}

const SPLIT_TAG: Record<Split, number> = { train: 1, test: 2 };
const CLASS_TAG = 3;

function classStyles(seed: number): ClassStyle[] {
  const styles: ClassStyle[] = [];
  for (let c = 0; c < SYNTHETIC_CLASSES; c++) {
    const rng = mulberry32(hashInts(seed, STREAM.synthetic, CLASS_TAG, c));
    const colour = (): [number, number, number] => [0.15 + 0.7 * rng(), 0.15 + 0.7 * rng(), 0.15 + 0.7 * rng()];
    // orientations spread over the half circle so no two classes share one; 1.5–4 cycles per image
    const wave = (angle: number): [number, number] => {
      const k = (2 * Math.PI * (1.5 + 2.5 * rng())) / CIFAR_SIDE;
      return [k * Math.cos(angle), k * Math.sin(angle)];
    };
    const angle = (Math.PI * (c + 0.3 * rng())) / SYNTHETIC_CLASSES;
    styles.push({ colourA: colour(), colourB: colour(), wave1: wave(angle), wave2: wave(angle + Math.PI / 2 + 0.6 * (rng() - 0.5)) });
  }
  return styles;
}

/** Zero-mean noise with unit variance (sum of three uniforms): close enough to Gaussian, far cheaper. */
function noise(rng: () => number): number {
  return (rng() + rng() + rng() - 1.5) * 2;
}

function drawImage(style: ClassStyle, rng: () => number, out: Float32Array): void {
  const side = CIFAR_SIDE;
  const background = [rng(), rng(), rng()];
  const jitter = [0.2 * (rng() - 0.5), 0.2 * (rng() - 0.5), 0.2 * (rng() - 0.5)];
  const phase1 = 2 * Math.PI * rng();
  const phase2 = 2 * Math.PI * rng();
  const cy = 8 + 16 * rng();
  const cx = 8 + 16 * rng();
  const radius = 9 + 6 * rng();
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v =
        Math.cos(style.wave1[0] * x + style.wave1[1] * y + phase1) * Math.cos(style.wave2[0] * x + style.wave2[1] * y + phase2);
      const t = (v + 1) / 2;
      const d = Math.sqrt((y - cy) * (y - cy) + (x - cx) * (x - cx));
      const mask = Math.min(1, Math.max(0, (radius - d) / 2));
      const o = 3 * (y * side + x);
      for (let ch = 0; ch < 3; ch++) {
        const colour = style.colourA[ch] * (1 - t) + style.colourB[ch] * t + jitter[ch];
        out[o + ch] = background[ch] * (1 - mask) + colour * mask;
      }
    }
  }
  const distractors = Math.floor(3 * rng());
  for (let k = 0; k < distractors; k++) {
    const colour = [rng(), rng(), rng()];
    const h = 2 + Math.floor(5 * rng());
    const w = 2 + Math.floor(5 * rng());
    const top = Math.floor((side - h) * rng());
    const left = Math.floor((side - w) * rng());
    const round = rng() < 0.5;
    for (let y = top; y < top + h; y++) {
      for (let x = left; x < left + w; x++) {
        const ny = (y - top + 0.5) / h - 0.5;
        const nx = (x - left + 0.5) / w - 0.5;
        if (round && nx * nx + ny * ny > 0.25) continue;
        const o = 3 * (y * side + x);
        for (let ch = 0; ch < 3; ch++) out[o + ch] = colour[ch]!;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i] + 0.06 * noise(rng);
}

/** Generates one split in memory; image i of a split depends only on (seed, split, i). Labels cycle 0..9. */
export function generateSyntheticSplit(params: SyntheticParams, split: Split): ImageSet {
  const count = split === 'train' ? params.trainSize : params.testSize;
  const styles = classStyles(params.seed);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(count);
  const pixels = new Float32Array(CIFAR_IMAGE_BYTES);
  for (let i = 0; i < count; i++) {
    const label = i % SYNTHETIC_CLASSES;
    labels[i] = label;
    drawImage(styles[label], mulberry32(hashInts(params.seed, STREAM.synthetic, SPLIT_TAG[split], i)), pixels);
    const base = i * CIFAR_IMAGE_BYTES;
    for (let p = 0; p < CIFAR_IMAGE_BYTES; p++) images[base + p] = Math.round(255 * pixels[p]); // Uint8Array clamps
  }
  return { images, labels, count, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] };
}

export function defaultCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'normlab');
}

export function syntheticFolderName(params: SyntheticParams): string {
  return `synthetic-v${GENERATOR_VERSION}-seed${params.seed}-train${params.trainSize}-test${params.testSize}`;
}

function splitIntoFiles(set: ImageSet, files: number): ImageSet[] {
  const parts: ImageSet[] = [];
  for (let f = 0; f < files; f++) {
    const from = Math.floor((f * set.count) / files);
    const to = Math.floor(((f + 1) * set.count) / files);
    parts.push({
      images: set.images.subarray(from * CIFAR_IMAGE_BYTES, to * CIFAR_IMAGE_BYTES),
      labels: set.labels.subarray(from, to),
      count: to - from,
      shape: set.shape,
    });
  }
  return parts;
}

/**
 * Makes sure the synthetic set exists in the CIFAR-10 binary layout under cacheRoot and returns the folder
 * to read it from. Generated once into a temporary folder and renamed into place, so a crash or a
 * concurrent worker never leaves a half-written set where a reader would take it for a whole one.
 */
export async function ensureSyntheticCifar(params: SyntheticParams, cacheRoot = defaultCacheRoot()): Promise<string> {
  for (const [name, value, min] of [['syntheticTrainSize', params.trainSize, 5], ['syntheticTestSize', params.testSize, 1], ['syntheticSeed', params.seed, 0]] as const) {
    if (!Number.isInteger(value) || value < min) throw new DataError(`synthetic data set: ${name} must be an integer >= ${min}, got ${value}`);
  }
  const dataDir = join(cacheRoot, syntheticFolderName(params));
  if ((await missingCifarFiles(dataDir, 'cifar10')).length === 0) return dataDir;

  await mkdir(cacheRoot, { recursive: true });
  const staging = await mkdtemp(join(cacheRoot, '.tmp-synthetic-'));
  try {
    const layout = CIFAR_LAYOUTS.cifar10;
    const folder = join(staging, layout.folder);
    await mkdir(folder);
    const trainParts = splitIntoFiles(generateSyntheticSplit(params, 'train'), layout.trainFiles.length);
    for (const [i, file] of layout.trainFiles.entries()) await writeFile(join(folder, file), encodeCifar10Records(trainParts[i]));
    await writeFile(join(folder, layout.testFiles[0]), encodeCifar10Records(generateSyntheticSplit(params, 'test')));
    await writeFile(join(staging, 'synthetic.json'), JSON.stringify({ generatorVersion: GENERATOR_VERSION, ...params }, null, 2));
    try {
      await rename(staging, dataDir);
    } catch (err) {
      // another process finished first: keep its copy
      if ((await missingCifarFiles(dataDir, 'cifar10')).length > 0) {
        throw new DataError(`${dataDir} exists but lacks some of its files (${(err as Error).message}); delete it to regenerate`);
      }
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dataDir;
}
