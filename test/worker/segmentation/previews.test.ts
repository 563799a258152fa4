import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanCityscapes } from '../../../src-worker/data/cityscapes/layout';
import { readPair } from '../../../src-worker/data/cityscapes/sample';
import type { WorkerEvent } from '../../../src-worker/protocol';
import { executeRun } from '../../../src-worker/train/run';
import {
  maskPng, previewSize, scaleLabelsNearest, SegPreviewWriter, type KeptPrediction,
} from '../../../src-worker/train/segmentation/previews';
import { SEG_PREVIEW_FILE, segPreviewFileSchema, type SegPreviewFile } from '../../../src-worker/train/segmentation/previews-format';
import { syntheticCityscapes } from './fixtures';

/** Decoded RGB pixels of a base64 or binary PNG. */
async function pixels(png: Buffer | string): Promise<{ rgb: number[][]; width: number; height: number }> {
  const input = typeof png === 'string' ? Buffer.from(png, 'base64') : png;
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgb: number[][] = [];
  for (let i = 0; i < info.width * info.height; i++) rgb.push([data[3 * i] ?? -1, data[3 * i + 1] ?? -1, data[3 * i + 2] ?? -1]);
  return { rgb, width: info.width, height: info.height };
}

function readPreview(dir: string): SegPreviewFile {
  return segPreviewFileSchema.parse(JSON.parse(readFileSync(join(dir, SEG_PREVIEW_FILE), 'utf8')));
}

let root: string;
let scratch: string;

beforeAll(async () => {
  root = await syntheticCityscapes({ trainImages: 8, valImages: 5, width: 96, height: 48, seed: 3 });
  scratch = await mkdtemp(join(tmpdir(), 'normlab-seg-preview-'));
});

afterAll(async () => {
  for (const dir of [root, scratch]) await rm(dir, { recursive: true, force: true });
});

describe('mask colours and scaling', () => {
  it('draws train ids in the official Cityscapes palette and the ignore label black', async () => {
    // road, sidewalk, sky, car / person, bicycle, ignore, an id past the 19 classes (drawn as ignore)
    const ids = Uint8Array.from([0, 1, 10, 13, 11, 18, 255, 200]);
    const { rgb, width, height } = await pixels(await maskPng(scaleLabelsNearest(ids, 4, 2, 4, 2), 4, 2));
    expect([width, height]).toEqual([4, 2]);
    expect(rgb).toEqual([
      [128, 64, 128], [244, 35, 232], [70, 130, 180], [0, 0, 142],
      [220, 20, 60], [119, 11, 32], [0, 0, 0], [0, 0, 0],
    ]);
  });

  it('scales label maps by nearest neighbour (no blended classes) and images to at most 256 wide', () => {
    // 4×2 → 2×1 samples the centres of each 2×2 cell: (1,1) and (3,1)
    expect(Array.from(scaleLabelsNearest(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 4, 2, 2, 1))).toEqual([5, 7]);
    expect(Array.from(scaleLabelsNearest(Int32Array.from([0, 13]), 2, 1, 4, 1))).toEqual([0, 0, 13, 13]);
    expect(previewSize(2048, 1024)).toEqual([256, 128]);
    expect(previewSize(96, 48)).toEqual([96, 48]);
    expect(() => scaleLabelsNearest(new Uint8Array(7), 4, 2, 2, 1)).toThrow(/7 labels do not make a 4×2 map/);
  });
});

describe('the preview file', () => {
  async function keptFor(count: number, predict: (truth: Uint8Array) => Int32Array): Promise<KeptPrediction[]> {
    const pairs = (await scanCityscapes(root, 'val')).slice(0, count);
    return Promise.all(pairs.map(async (pair) => {
      const s = await readPair(pair);
      return { width: s.width, height: s.height, labels: Int32Array.from(s.label), predictions: predict(s.label) };
    }));
  }

  it('holds the first 4 val images with their masks, the classes present, and only the latest epoch', async () => {
    const dir = join(scratch, 'writer');
    const writer = await SegPreviewWriter.open(root, dir, 4);
    expect(writer.count).toBe(4);
    const allRoad = await keptFor(4, (t) => new Int32Array(t.length));
    await writer.write(1, allRoad);
    const first = readPreview(dir);
    expect(first.epoch).toBe(1);
    expect(first.images.map((i) => i.name)).toEqual((await scanCityscapes(root, 'val')).slice(0, 4).map((p) => p.stem));
    expect([first.width, first.height, first.sourceWidth, first.sourceHeight]).toEqual([96, 48, 96, 48]);
    // the synthetic scenes have an ignored ego-vehicle strip and sky, buildings, sidewalk, road, cars, people, trees
    expect(first.ignorePresent).toBe(true);
    expect(first.classes.map((c) => c.name)).toEqual(expect.arrayContaining(['road', 'sidewalk', 'building', 'sky', 'car']));
    expect(first.classes.find((c) => c.name === 'road')?.color).toEqual([128, 64, 128]);
    const image0 = first.images[0];
    if (!image0) throw new Error('no image');
    const prediction = await pixels(image0.prediction);
    expect(prediction.rgb.every((p) => p.join() === '128,64,128')).toBe(true);
    // the truth drawn from the evaluated labels: its bottom row is the ignored ego strip, black
    const truth = await pixels(image0.truth);
    expect(truth.rgb.slice(-96).every((p) => p.join() === '0,0,0')).toBe(true);
    const photo = await pixels(image0.image);
    expect([photo.width, photo.height]).toEqual([96, 48]);
    expect(photo.rgb.some((p) => p.join() !== '0,0,0')).toBe(true);

    // epoch 2 replaces epoch 1 whole: one file, no temporary left behind
    await writer.write(2, await keptFor(4, (t) => Int32Array.from(t)));
    const second = readPreview(dir);
    expect(second.epoch).toBe(2);
    expect(second.images[0]?.prediction).toBe(second.images[0]?.truth);
    expect(readdirSync(dir).filter((f) => f.startsWith(SEG_PREVIEW_FILE))).toEqual([SEG_PREVIEW_FILE]);
  });

  it('scales images wider than 256 px down, the masks by nearest neighbour and the image smoothly', async () => {
    const wide = await syntheticCityscapes({ trainImages: 1, valImages: 1, width: 512, height: 64, seed: 4 });
    try {
      const dir = join(scratch, 'wide');
      const writer = await SegPreviewWriter.open(wide, dir, 4);
      expect(writer.count).toBe(1);
      const [pair] = await scanCityscapes(wide, 'val');
      if (!pair) throw new Error('fixture');
      const s = await readPair(pair);
      await writer.write(3, [{ width: 512, height: 64, labels: Int32Array.from(s.label), predictions: new Int32Array(512 * 64).fill(10) }]);
      const file = readPreview(dir);
      expect([file.width, file.height, file.sourceWidth, file.sourceHeight]).toEqual([256, 32, 512, 64]);
      const image = file.images[0];
      if (!image) throw new Error('no image');
      for (const png of [image.image, image.truth, image.prediction]) expect((await pixels(png)).width).toBe(256);
      expect((await pixels(image.prediction)).rgb.every((p) => p.join() === '70,130,180')).toBe(true);
      // every truth pixel is one of the palette's colours or black: nothing blended at the class boundaries
      const palette = new Set([...file.classes.map((c) => c.color.join()), '0,0,0']);
      expect((await pixels(image.truth)).rgb.every((p) => palette.has(p.join()))).toBe(true);
    } finally {
      await rm(wide, { recursive: true, force: true });
    }
  });

  it('refuses predictions of other images than the val folder\'s first ones, naming the image', async () => {
    const writer = await SegPreviewWriter.open(root, join(scratch, 'order'), 2);
    const kept = await keptFor(3, (t) => new Int32Array(t.length));
    const [a, , c] = kept;
    if (!a || !c) throw new Error('fixture');
    await expect(writer.write(1, [a, c])).rejects.toThrow(/evaluated image 2 is not \S+_\d+_\d+ \(96×48\)/);
    await expect(writer.write(1, [a])).rejects.toThrow(/kept 1 predictions, expected 2/);
  });
});

describe('a segmentation run', () => {
  it('writes each epoch\'s masks before reporting the epoch, from the model\'s own predictions, without leaking tensors', async () => {
    const dir = join(scratch, 'run');
    const seenAtEpoch: number[] = [];
    const events: WorkerEvent[] = [];
    const result = await executeRun({
      model: 'fc_resnet18_bn', dataset: 'cityscapes', dataDir: root, epochs: 2, batchSize: 2, lr: 0.05, width: 0.125,
      cropSize: [64, 32], lowResolution: true, schedule: { kind: 'poly', power: 0.9 }, seed: 5, backend: 'wasm', checkpointDir: dir,
    }, {
      emit: (e) => {
        events.push(e);
        // what a page that refreshes on the epoch event would read at that moment
        if (e.event === 'epoch') seenAtEpoch.push(readPreview(dir).epoch);
      },
      isCancelled: () => false,
    });
    expect(result.status).toBe('finished');
    expect(seenAtEpoch).toEqual([1, 2]);
    const preview = readPreview(dir);
    expect(preview.images).toHaveLength(4);
    const epochs = events.flatMap((e) => (e.event === 'epoch' ? [e.metrics.num_tensors] : []));
    expect(epochs[1]).toBe(epochs[0]);
    expect(events.some((e) => e.event === 'log' && /mask previews/.test(e.message))).toBe(false);
    // nothing of the images goes into the journal, which a replay re-sends
    expect(readFileSync(join(dir, 'events.jsonl'), 'utf8')).not.toMatch(/iVBORw0KGgo|"prediction"/);
  });
});
