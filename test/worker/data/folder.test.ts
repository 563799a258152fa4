import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { openDataset, type Batch } from '../../../src-worker/data';
import { tempDir } from './helpers';

type Rgb = [number, number, number];

async function solidImage(path: string, width: number, height: number, colour: Rgb): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const image = sharp({ create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } });
  await (path.endsWith('.png') ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
}

/** Left half dark, right half bright: shows where a crop came from and whether it was mirrored. */
async function halvesImage(path: string, width: number, height: number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.fill(x < width / 2 ? 20 : 230, (y * width + x) * 3, (y * width + x + 1) * 3);
  await sharp(raw, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

async function makeFolderSet(): Promise<string> {
  const dir = await tempDir();
  await solidImage(join(dir, 'train', 'zebra', 'z1.png'), 40, 30, [200, 10, 30]);
  await solidImage(join(dir, 'train', 'cat', 'c1.jpg'), 30, 50, [10, 200, 30]);
  await solidImage(join(dir, 'train', 'cat', 'nested', 'c2.jpeg'), 64, 64, [10, 30, 200]);
  await halvesImage(join(dir, 'train', 'dog', 'halves.png'), 64, 32);
  await writeFile(join(dir, 'train', 'dog', 'notes.txt'), 'not an image');
  await halvesImage(join(dir, 'val', 'dog', 'halves.png'), 64, 32);
  await solidImage(join(dir, 'val', 'cat', 'v1.PNG'), 20, 24, [120, 60, 90]);
  return dir;
}

function pixel(batch: Batch, b: number, y: number, x: number, c: number): number {
  const [h, w, ch] = batch.shape;
  return batch.x[b * h * w * ch + (y * w + x) * ch + c];
}

describe('image folder data set', () => {
  it('lists classes sorted by name and images per class, ignoring other files', async () => {
    const ds = await openDataset({ dataset: 'folder', dataDir: await makeFolderSet(), normalize: false, imageSize: 16 });
    expect([ds.numClasses, ds.trainSize, ds.testSize]).toEqual([3, 4, 2]);
    expect(ds.imageShape).toEqual([16, 16, 3]);
    const batch = await ds.getBatch('train', Int32Array.of(0, 1, 2, 3), { augment: false, seed: 0 });
    // cat = 0 (c1.jpg, nested/c2.jpeg), dog = 1, zebra = 2
    expect(Array.from(batch.y)).toEqual([0, 0, 1, 2]);
    expect(pixel(batch, 0, 8, 8, 1)).toBeCloseTo(200 / 255, 1);
    expect(pixel(batch, 3, 5, 5, 0)).toBeCloseTo(200 / 255, 2);
    expect(pixel(batch, 3, 5, 5, 2)).toBeCloseTo(30 / 255, 2);
  });

  it('evaluates with resize(round(size·256/224)) and a centre crop', async () => {
    const ds = await openDataset({ dataset: 'folder', dataDir: await makeFolderSet(), normalize: false, imageSize: 16 });
    const [batch] = await collect(ds.batches('test', { batchSize: 2, epoch: 0, seed: 0 }));
    // val: cat/v1.PNG (label 0), dog/halves.png (label 1). 64×32 → 36×18 → centre 16×16: columns 10..25 of 36
    expect(Array.from(batch.y)).toEqual([0, 1]);
    expect(batch.shape).toEqual([16, 16, 3]);
    for (let y = 0; y < 16; y++) {
      expect(pixel(batch, 1, y, 0, 0)).toBeCloseTo(20 / 255, 2);
      expect(pixel(batch, 1, y, 15, 0)).toBeCloseTo(230 / 255, 2);
    }
    // the split between the halves sits at column 18 − 10 = 8 of the crop
    expect(pixel(batch, 1, 8, 6, 0)).toBeLessThan(0.2);
    expect(pixel(batch, 1, 8, 9, 0)).toBeGreaterThan(0.8);
  });

  it('trains on random resized crops, mirrored about half the time, deterministic in (seed, epoch, index)', async () => {
    const ds = await openDataset({ dataset: 'folder', dataDir: await makeFolderSet(), normalize: false, imageSize: 16 });
    const halves = 2; // train index of dog/halves.png
    let mirrored = 0;
    let unmirrored = 0;
    const crops = new Set<string>();
    for (let epoch = 0; epoch < 24; epoch++) {
      const batch = await ds.getBatch('train', Int32Array.of(halves), { augment: true, seed: 1, epoch });
      expect(batch.shape).toEqual([16, 16, 3]);
      const left = pixel(batch, 0, 8, 0, 0);
      const right = pixel(batch, 0, 8, 15, 0);
      if (left > 0.5 && right < 0.5) mirrored++;
      if (left < 0.5 && right > 0.5) unmirrored++;
      crops.add(Array.from(batch.x.subarray(0, 48), (v) => v.toFixed(3)).join());
    }
    expect(mirrored).toBeGreaterThan(0);
    expect(unmirrored).toBeGreaterThan(0);
    expect(crops.size).toBeGreaterThan(5);
    const again = await ds.getBatch('train', Int32Array.of(halves), { augment: true, seed: 1, epoch: 3 });
    const same = await ds.getBatch('train', Int32Array.of(halves), { augment: true, seed: 1, epoch: 3 });
    expect(again.x).toEqual(same.x);
  });

  it('normalises with the ImageNet mean/std when asked', async () => {
    const ds = await openDataset({ dataset: 'folder', dataDir: await makeFolderSet(), normalize: true, imageSize: 16 });
    const batch = await ds.getBatch('train', Int32Array.of(3), { augment: false, seed: 0 });
    expect(pixel(batch, 0, 7, 7, 0)).toBeCloseTo((200 / 255 - 0.485) / 0.229, 1);
    expect(pixel(batch, 0, 7, 7, 2)).toBeCloseTo((30 / 255 - 0.406) / 0.225, 1);
  });

  it('turns greyscale and RGBA images into three channels', async () => {
    const dir = await makeFolderSet();
    await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .greyscale()
      .png()
      .toFile(join(dir, 'train', 'zebra', 'z2-grey.png'));
    await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 5, g: 100, b: 250, alpha: 1 } } })
      .png()
      .toFile(join(dir, 'train', 'zebra', 'z3-rgba.png'));
    const ds = await openDataset({ dataset: 'folder', dataDir: dir, normalize: false, imageSize: 8 });
    const batch = await ds.getBatch('train', Int32Array.of(4, 5), { augment: false, seed: 0 });
    expect(batch.x.length).toBe(2 * 8 * 8 * 3);
    for (const c of [0, 1, 2]) expect(pixel(batch, 0, 4, 4, c)).toBeCloseTo(90 / 255, 2);
    expect(pixel(batch, 1, 4, 4, 2)).toBeCloseTo(250 / 255, 2);
  });

  it('names a corrupt image file when its batch is built', async () => {
    const dir = await makeFolderSet();
    const broken = join(dir, 'train', 'zebra', 'z0-broken.jpg');
    await writeFile(broken, Buffer.from('this is not a JPEG at all'));
    const ds = await openDataset({ dataset: 'folder', dataDir: dir, normalize: false, imageSize: 16 });
    const run = async () => {
      for await (const _ of ds.batches('train', { batchSize: 2, epoch: 0, seed: 0, shuffle: false })) {
        /* drain */
      }
    };
    await expect(run()).rejects.toThrow(`${broken}: cannot decode image`);
    // a JPEG cut short is refused too
    const good = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    await writeFile(broken, good.subarray(0, 200));
    await expect(ds.getBatch('train', Int32Array.of(3), { augment: false, seed: 0 })).rejects.toThrow(`${broken}: cannot decode image`);
  });

  it('says what layout it expected when a split folder is missing', async () => {
    const dir = await tempDir();
    await solidImage(join(dir, 'train', 'cat', 'c1.png'), 8, 8, [1, 2, 3]);
    await expect(openDataset({ dataset: 'folder', dataDir: dir, normalize: false })).rejects.toThrow(
      `image folder data set: ${join(dir, 'val')} not found; expected <dataDir>/train/<class>/*.jpg|jpeg|png`,
    );
  });

  it('refuses a val class unknown to train and an empty class folder', async () => {
    const dir = await makeFolderSet();
    await solidImage(join(dir, 'val', 'horse', 'h.png'), 8, 8, [1, 2, 3]);
    await expect(openDataset({ dataset: 'folder', dataDir: dir, normalize: false })).rejects.toThrow(
      `${join(dir, 'val', 'horse')}: class "horse" does not exist in the train split`,
    );
    const other = await makeFolderSet();
    await mkdir(join(other, 'train', 'empty'));
    await expect(openDataset({ dataset: 'folder', dataDir: other, normalize: false })).rejects.toThrow(
      `${join(other, 'train', 'empty')}: no .jpg, .jpeg or .png images in class folder "empty"`,
    );
  });
});

async function collect(iterable: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of iterable) out.push(batch);
  return out;
}
