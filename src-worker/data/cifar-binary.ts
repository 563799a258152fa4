import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageSet } from './image-set';
import { DataError, type Split } from './types';

/**
 * The official CIFAR binary layouts (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
 * label byte(s) followed by 3072 bytes holding the red, green and blue 32×32 planes, row-major.
 */
export type CifarName = 'cifar10' | 'cifar100';

export interface CifarLayout {
  title: string;
  folder: string;
  trainFiles: string[];
  testFiles: string[];
  /** CIFAR-100 records carry a coarse label byte before the fine one; we train on the fine label. */
  labelBytes: 1 | 2;
  numClasses: number;
  coarseClasses?: number;
}

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_IMAGE_BYTES = 3 * CIFAR_PIXELS;

export const CIFAR_LAYOUTS: Record<CifarName, CifarLayout> = {
  cifar10: {
    title: 'CIFAR-10',
    folder: 'cifar-10-batches-bin',
    trainFiles: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    testFiles: ['test_batch.bin'],
    labelBytes: 1,
    numClasses: 10,
  },
  cifar100: {
    title: 'CIFAR-100',
    folder: 'cifar-100-binary',
    trainFiles: ['train.bin'],
    testFiles: ['test.bin'],
    labelBytes: 2,
    numClasses: 100,
    coarseClasses: 20,
  },
};

export function recordBytes(layout: CifarLayout): number {
  return layout.labelBytes + CIFAR_IMAGE_BYTES;
}

function filesOf(layout: CifarLayout, split: Split): string[] {
  return split === 'train' ? layout.trainFiles : layout.testFiles;
}

/** Paths of the layout's files under dataDir that do not exist (empty when complete). */
export async function missingCifarFiles(dataDir: string, name: CifarName): Promise<string[]> {
  const layout = CIFAR_LAYOUTS[name];
  const missing: string[] = [];
  for (const file of [...layout.trainFiles, ...layout.testFiles]) {
    const path = join(dataDir, layout.folder, file);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) missing.push(path);
  }
  return missing;
}

/** Refuses a data dir lacking any of the layout's files, with a message that says how to get them. */
export async function assertCifarPresent(dataDir: string, name: CifarName): Promise<void> {
  const missing = await missingCifarFiles(dataDir, name);
  if (missing.length === 0) return;
  const layout = CIFAR_LAYOUTS[name];
  throw new DataError(
    `${layout.title} data not found in ${dataDir}: missing ${missing.join(', ')}. ` +
      `Expected the official binary layout ${layout.folder}/{${[...layout.trainFiles, ...layout.testFiles].join(',')}}; ` +
      `run \`normlab download ${name} --data-dir ${dataDir}\` to fetch it.`,
  );
}

/** Decodes one file's records into NHWC bytes; `file` is only used in error messages. */
export function decodeCifarRecords(bytes: Uint8Array, file: string, layout: CifarLayout): ImageSet {
  const size = recordBytes(layout);
  if (bytes.length === 0 || bytes.length % size !== 0) {
    throw new DataError(
      `${file}: size ${bytes.length} bytes is not a positive multiple of the ${size}-byte ${layout.title} record ` +
        `(${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} + ${CIFAR_IMAGE_BYTES} pixels); ` +
        `the file is truncated or not ${layout.title} binary`,
    );
  }
  const count = bytes.length / size;
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(count);
  const labelOffset = layout.labelBytes - 1;
  for (let r = 0; r < count; r++) {
    const base = r * size;
    if (layout.coarseClasses !== undefined && bytes[base] >= layout.coarseClasses) {
      throw new DataError(
        `${file}: record ${r} has coarse label ${bytes[base]}, expected 0..${layout.coarseClasses - 1}`,
      );
    }
    const label = bytes[base + labelOffset];
    if (label >= layout.numClasses) {
      throw new DataError(`${file}: record ${r} has label ${label}, expected 0..${layout.numClasses - 1}`);
    }
    labels[r] = label;
    const planes = base + layout.labelBytes;
    const out = r * CIFAR_IMAGE_BYTES;
    // CHW planes → HWC pixels
    for (let p = 0; p < CIFAR_PIXELS; p++) {
      const o = out + 3 * p;
      images[o] = bytes[planes + p]!;
      images[o + 1] = bytes[planes + CIFAR_PIXELS + p]!;
      images[o + 2] = bytes[planes + 2 * CIFAR_PIXELS + p]!;
    }
  }
  return { images, labels, count, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] };
}

function concatSets(sets: ImageSet[]): ImageSet {
  if (sets.length === 1) return sets[0];
  const count = sets.reduce((n, s) => n + s.count, 0);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(count);
  let at = 0;
  for (const s of sets) {
    images.set(s.images, at * CIFAR_IMAGE_BYTES);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { images, labels, count, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] };
}

/** Reads one split of a CIFAR data set from dataDir (the folder holding cifar-10-batches-bin/ etc.). */
export async function readCifarSplit(dataDir: string, name: CifarName, split: Split): Promise<ImageSet> {
  await assertCifarPresent(dataDir, name);
  const layout = CIFAR_LAYOUTS[name];
  const sets: ImageSet[] = [];
  for (const file of filesOf(layout, split)) {
    const path = join(dataDir, layout.folder, file);
    sets.push(decodeCifarRecords(await readFile(path), path, layout));
  }
  return concatSets(sets);
}

/** Encodes NHWC images and labels as CIFAR-10 binary records (the synthetic set's on-disk form). */
export function encodeCifar10Records(set: ImageSet): Uint8Array {
  const size = recordBytes(CIFAR_LAYOUTS.cifar10);
  const out = new Uint8Array(set.count * size);
  for (let r = 0; r < set.count; r++) {
    const base = r * size;
    const label = set.labels[r];
    if (label < 0 || label > 255) throw new DataError(`label ${label} of image ${r} does not fit a CIFAR label byte`);
    out[base] = label;
    const src = r * CIFAR_IMAGE_BYTES;
    for (let p = 0; p < CIFAR_PIXELS; p++) {
      out[base + 1 + p] = set.images[src + 3 * p]!;
      out[base + 1 + CIFAR_PIXELS + p] = set.images[src + 3 * p + 1]!;
      out[base + 1 + 2 * CIFAR_PIXELS + p] = set.images[src + 3 * p + 2]!;
    }
  }
  return out;
}
