import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { CITYSCAPES_CLASSES, IGNORE, colorize } from '../../data/cityscapes/labels';
import { scanCityscapes } from '../../data/cityscapes/layout';
import { readPair } from '../../data/cityscapes/sample';
import type { WorkerEvent } from '../../protocol';
import type { RunSpec } from '../../run-spec';
import { SEG_PREVIEW_FILE, SEG_PREVIEW_FORMAT, SEG_PREVIEW_VERSION, type SegPreviewFile } from './previews-format';

/** How many validation images a preview shows, and how wide they are drawn at most. */
export const PREVIEW_IMAGES = 4;
export const PREVIEW_MAX_WIDTH = 256;

/** One evaluated image's ground truth and argmax prediction (train ids, 255 = ignore) at evaluation resolution. */
export interface KeptPrediction {
  width: number;
  height: number;
  labels: Int32Array;
  predictions: Int32Array;
}

/** [width, height] scaled down to at most `maxWidth` wide, keeping the aspect ratio (never scaled up). */
export function previewSize(width: number, height: number, maxWidth = PREVIEW_MAX_WIDTH): [number, number] {
  if (width <= maxWidth) return [width, height];
  return [maxWidth, Math.max(1, Math.round((height * maxWidth) / width))];
}

/**
 * Nearest-neighbour scaling of a label map (pixel centres sampled): labels are categories, and blending two
 * neighbours' ids would draw a third class that is in neither.
 */
export function scaleLabelsNearest(ids: ArrayLike<number>, width: number, height: number, toWidth: number, toHeight: number): Uint8Array {
  if (ids.length !== width * height) {
    throw new Error(`Error in scaleLabelsNearest: ${ids.length} labels do not make a ${width}×${height} map`);
  }
  const out = new Uint8Array(toWidth * toHeight);
  for (let y = 0; y < toHeight; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / toHeight));
    for (let x = 0; x < toWidth; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / toWidth));
      const id = ids[sy * width + sx] ?? IGNORE;
      out[y * toWidth + x] = id >= 0 && id < CITYSCAPES_CLASSES.length ? id : IGNORE;
    }
  }
  return out;
}

/** A train-id mask as a PNG in the Cityscapes palette (labels.ts), the ignore label black. */
export async function maskPng(ids: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(colorize(ids), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** RGB bytes scaled to [toWidth, toHeight] (libvips' default Lanczos, which averages down rather than aliasing). */
export async function imagePng(rgb: Uint8Array, width: number, height: number, toWidth: number, toHeight: number): Promise<Buffer> {
  let pipeline = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (toWidth !== width || toHeight !== height) pipeline = pipeline.resize(toWidth, toHeight, { fit: 'fill' });
  return pipeline.png().toBuffer();
}

interface PreviewSource {
  name: string;
  width: number;
  height: number;
  label: Uint8Array;
  /** The image's PNG at preview size: the same every epoch, so encoded once. */
  png: string;
}

/** Writes a run's preview file after each evaluation (previews-format.ts says what it holds and why a file). */
export class SegPreviewWriter {
  private constructor(
    private readonly path: string,
    private readonly sources: PreviewSource[],
  ) {}

  /** How many of the evaluation's first images to keep predictions of. */
  get count(): number {
    return this.sources.length;
  }

  /**
   * The first `count` validation images in file order, which is also the order evaluation reads them in
   * (CityscapesDataset: the val split, unshuffled); `write` checks that their labels are the evaluated ones.
   */
  static async open(dataDir: string, checkpointDir: string, count = PREVIEW_IMAGES): Promise<SegPreviewWriter> {
    const pairs = (await scanCityscapes(dataDir, 'val')).slice(0, count);
    const sources = await Promise.all(pairs.map(async (pair) => {
      const sample = await readPair(pair);
      const [w, h] = previewSize(sample.width, sample.height);
      const png = await imagePng(sample.image, sample.width, sample.height, w, h);
      return { name: pair.stem, width: sample.width, height: sample.height, label: sample.label, png: png.toString('base64') };
    }));
    return new SegPreviewWriter(join(checkpointDir, SEG_PREVIEW_FILE), sources);
  }

  /** Encodes one epoch's masks and replaces the preview file (write to a temporary name, then rename). */
  async write(epoch: number, kept: readonly KeptPrediction[]): Promise<SegPreviewFile> {
    if (kept.length !== this.sources.length) {
      throw new Error(`seg preview: evaluation kept ${kept.length} predictions, expected ${this.sources.length}`);
    }
    const present = new Set<number>();
    let ignorePresent = false;
    const images = await Promise.all(this.sources.map(async (source, i) => {
      const k = kept[i];
      if (!k || k.width !== source.width || k.height !== source.height || !sameLabels(k.labels, source.label)) {
        throw new Error(`seg preview: evaluated image ${i + 1} is not ${source.name} (${source.width}×${source.height}); the evaluation order differs from the val folder's`);
      }
      const [w, h] = previewSize(k.width, k.height);
      const truth = scaleLabelsNearest(k.labels, k.width, k.height, w, h);
      const prediction = scaleLabelsNearest(k.predictions, k.width, k.height, w, h);
      for (const id of truth) {
        if (id === IGNORE) ignorePresent = true;
        else present.add(id);
      }
      for (const id of prediction) if (id !== IGNORE) present.add(id);
      const [truthPng, predictionPng] = await Promise.all([maskPng(truth, w, h), maskPng(prediction, w, h)]);
      return { name: source.name, image: source.png, truth: truthPng.toString('base64'), prediction: predictionPng.toString('base64') };
    }));
    const first = kept[0];
    if (!first) throw new Error('seg preview: no images to show');
    const [width, height] = previewSize(first.width, first.height);
    const file: SegPreviewFile = {
      format: SEG_PREVIEW_FORMAT, version: SEG_PREVIEW_VERSION, epoch, width, height, sourceWidth: first.width, sourceHeight: first.height,
      images,
      classes: CITYSCAPES_CLASSES.filter((c) => present.has(c.trainId)).map((c) => ({ trainId: c.trainId, name: c.name, color: [...c.color] })),
      ignorePresent,
    };
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, JSON.stringify(file));
      // rename replaces the old file in one step: a reader never sees half a file or two epochs mixed
      renameSync(tmp, this.path);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
    return file;
  }
}

function sameLabels(evaluated: Int32Array, read: Uint8Array): boolean {
  if (evaluated.length !== read.length) return false;
  for (let i = 0; i < read.length; i++) if (evaluated[i] !== read[i]) return false;
  return true;
}

/**
 * The trainer's view: previews are a courtesy, so a failure to make one is logged once and previews stop, rather
 * than failing a run of hundreds of epochs. Only runs with a checkpoint folder (every run the scheduler starts)
 * have somewhere to put them; the CLI's `train` without one has no page to show them on.
 */
export interface SegPreviews {
  /** Predictions of the evaluation's first `keep` images are wanted (0: none). */
  readonly keep: number;
  afterEvaluation(epoch: number, kept: readonly KeptPrediction[]): Promise<void>;
}

export async function openSegPreviews(spec: RunSpec, datasetName: string, emit: (e: WorkerEvent) => void): Promise<SegPreviews> {
  const none: SegPreviews = { keep: 0, afterEvaluation: async () => {} };
  if (!spec.checkpointDir || !spec.dataDir || datasetName !== 'cityscapes') return none;
  const warn = (error: unknown) => emit({
    event: 'log', level: 'warn',
    message: `no mask previews for this run: ${error instanceof Error ? error.message : String(error)}`,
  });
  let writer: SegPreviewWriter | null;
  try {
    writer = await SegPreviewWriter.open(spec.dataDir, spec.checkpointDir);
  } catch (error) {
    warn(error);
    return none;
  }
  return {
    get keep() {
      return writer?.count ?? 0;
    },
    async afterEvaluation(epoch, kept) {
      if (!writer) return;
      try {
        await writer.write(epoch, kept);
      } catch (error) {
        writer = null;
        warn(error);
      }
    },
  };
}
