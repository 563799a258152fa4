import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IGNORE, LABEL_TO_TRAIN_ID, colorize, toTrainIds } from '../../../src-worker/data/cityscapes/labels';
import { scanCityscapes } from '../../../src-worker/data/cityscapes/layout';
import { augmentSample, drawAugmentation, readPair, type SegmentationSample } from '../../../src-worker/data/cityscapes/sample';
import { writeSyntheticCityscapes } from '../../../src-worker/data/cityscapes/synthetic';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'normlab-cityscapes-'));
  await writeSyntheticCityscapes(root, { trainImages: 4, valImages: 2, width: 64, height: 32, seed: 3 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Cityscapes labels', () => {
  it('maps the 19 evaluated labelIds to train ids 0..18 and everything else to 255', () => {
    expect(LABEL_TO_TRAIN_ID[7]).toBe(0); // road
    expect(LABEL_TO_TRAIN_ID[23]).toBe(10); // sky
    expect(LABEL_TO_TRAIN_ID[33]).toBe(18); // bicycle
    for (const ignored of [0, 1, 6, 9, 10, 14, 15, 16, 18, 29, 30, 34, 255]) expect(LABEL_TO_TRAIN_ID[ignored]).toBe(IGNORE);
    expect([...new Set(LABEL_TO_TRAIN_ID)].filter((v) => v !== IGNORE).sort((a, b) => a - b)).toEqual([...Array(19).keys()]);
    expect(Array.from(toTrainIds(Uint8Array.from([7, 1, 26])))).toEqual([0, 255, 13]);
    expect(Array.from(colorize(Uint8Array.from([0, 255])))).toEqual([128, 64, 128, 0, 0, 0]);
  });
});

describe('the official layout, read from a generated folder', () => {
  it('pairs images with masks per city, in a stable order', async () => {
    const train = await scanCityscapes(root, 'train');
    expect(train.map((p) => p.stem)).toEqual([
      'synthA_000000_000000', 'synthA_000000_000002', 'synthB_000000_000001', 'synthB_000000_000003',
    ]);
    expect(train[0]?.mask).toMatch(/gtFine\/train\/synthA\/synthA_000000_000000_gtFine_labelIds\.png$/);
    expect(await scanCityscapes(root, 'val')).toHaveLength(2);
    // masks are written as the official ones are: 8-bit, one channel
    const meta = await sharp(train[0]?.mask ?? '').metadata();
    expect([meta.channels, meta.depth]).toEqual([1, 'uchar']);
  });

  it('decodes a pair: textured image, train-id mask with the scene classes and the ignored strip', async () => {
    const [pair] = await scanCityscapes(root, 'train');
    if (!pair) throw new Error('no pair');
    const s = await readPair(pair);
    expect([s.width, s.height, s.image.length, s.label.length]).toEqual([64, 32, 64 * 32 * 3, 64 * 32]);
    const classes = new Set(s.label);
    for (const id of [0, 1, 2, 10, 13, IGNORE]) expect(classes.has(id)).toBe(true); // road, sidewalk, building, sky, car
    // no flat windows: every row of the sky has more than one value
    expect(new Set(s.image.slice(0, 64 * 3)).size).toBeGreaterThan(10);
  });

  it('names the missing folder', async () => {
    await expect(scanCityscapes(join(root, 'nope'), 'train')).rejects.toThrow(/Cityscapes: .*nope\/leftImg8bit\/train not found; expected the official layout/);
  });

  it('a missing mask: how many images and masks were found, and which one is missing', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'normlab-cityscapes-broken-'));
    try {
      await writeSyntheticCityscapes(broken, { trainImages: 3, valImages: 0, width: 16, height: 8 });
      await unlink(join(broken, 'gtFine', 'train', 'synthB', 'synthB_000000_000001_gtFine_labelIds.png'));
      await expect(scanCityscapes(broken, 'train')).rejects.toThrow(
        /Cityscapes train: found 3 images and 2 masks under .*; 1 image\(s\) without a mask: synthB_000000_000001/,
      );
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});

/** An image whose red channel is its label times 10: alignment can be checked pixel by pixel. */
function coded(width: number, height: number): SegmentationSample {
  const label = Uint8Array.from({ length: width * height }, (_, i) => (i % width) % 7 + (Math.floor(i / width) % 3) * 7);
  const image = new Uint8Array(width * height * 3);
  label.forEach((l, i) => image.set([l * 10, 0, 0], 3 * i));
  return { width, height, image, label };
}

describe('augmentation on image and mask together', () => {
  it('crop and flip keep every pixel with its label; padding is black and ignored', async () => {
    const s = coded(20, 10);
    for (const flip of [false, true]) {
      const out = await augmentSample(s, { scale: 1, cropX: 0.5, cropY: 1, flip }, [12, 16]);
      expect([out.width, out.height]).toEqual([12, 16]);
      for (let i = 0; i < 12 * 16; i++) {
        const l = out.label[i] ?? -1;
        if (l === IGNORE) expect(out.image[3 * i]).toBe(0);
        else expect(out.image[3 * i]).toBe(l * 10);
      }
      // the crop is 16 high but the image 10: the last 6 rows are padding
      expect(out.label.slice(10 * 12).every((l) => l === IGNORE)).toBe(true);
      // left edge at 4 (half of the 8 columns of room); a flip mirrors the row
      const row0 = Array.from(out.label.slice(0, 12));
      const expected = Array.from({ length: 12 }, (_, x) => s.label[4 + x] ?? -1);
      expect(row0).toEqual(flip ? expected.reverse() : expected);
    }
  });

  it('scaling resizes the mask by nearest neighbour (no blended labels), aligned with the bilinear image', async () => {
    // labels in 4×4 blocks, so after a 2× upscale each block's inside is flat in the image too
    const width = 16;
    const height = 8;
    const label = Uint8Array.from({ length: width * height }, (_, i) => ((Math.floor((i % width) / 4) + 2 * Math.floor(i / width / 4)) % 8) + 1);
    const image = new Uint8Array(width * height * 3);
    label.forEach((l, i) => image.set([l * 20, 0, 0], 3 * i));
    const out = await augmentSample({ width, height, image, label }, { scale: 2, cropX: 0, cropY: 0, flip: false }, [32, 16]);
    expect([...out.label].every((l) => l >= 1 && l <= 8)).toBe(true);
    let checked = 0;
    for (let y = 1; y < 15; y++) {
      for (let x = 1; x < 31; x++) {
        const l = out.label[y * 32 + x] ?? 0;
        const uniform = [-1, 0, 1].every((dy) => [-1, 0, 1].every((dx) => out.label[(y + dy) * 32 + x + dx] === l));
        if (!uniform) continue;
        // where the mask says one label all around, the image must show that label's value: no offset between them
        expect(Math.abs((out.image[3 * (y * 32 + x)] ?? 0) - l * 20)).toBeLessThanOrEqual(1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('draws are deterministic per (seed, epoch, index) and cover the paper ranges', () => {
    expect(drawAugmentation(1, 2, 3)).toEqual(drawAugmentation(1, 2, 3));
    const draws = Array.from({ length: 200 }, (_, i) => drawAugmentation(1, 0, i));
    expect(Math.min(...draws.map((d) => d.scale))).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...draws.map((d) => d.scale))).toBeLessThanOrEqual(2);
    expect(draws.filter((d) => d.flip).length).toBeGreaterThan(60);
    expect(draws.filter((d) => d.flip).length).toBeLessThan(140);
  });
});
