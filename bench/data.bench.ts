/**
 * The data pipeline alone: one training batch of 32 CIFAR-size images (crop after 4-px padding, flip,
 * per-channel normalisation) from the synthetic set in the CIFAR layout, and one batch of 32 ImageNet-style
 * images (JPEG decode + random-resized crop to 224, or resize 256 + centre crop) decoded by sharp.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { openDataset } from '../src-worker/data';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeBatches(reps: number, make: (i: number) => Promise<unknown>): Promise<number> {
  await make(-1); // warm-up
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await make(i);
    times.push(performance.now() - t);
  }
  return median(times);
}

async function writeJpegs(root: string, split: string, classes: number, perClass: number): Promise<void> {
  for (let c = 0; c < classes; c++) {
    const dir = join(root, split, `class${c}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const pixels = Buffer.alloc(500 * 375 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (p * (c + 3) + i * 7919) % 251;
      await sharp(pixels, { raw: { width: 500, height: 375, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, `${i}.jpg`));
    }
  }
}

async function main(): Promise<void> {
  const cifar = await openDataset({ dataset: 'synthetic', normalize: true, syntheticTrainSize: 2048, syntheticTestSize: 256 });
  const indices = Int32Array.from({ length: 32 }, (_, i) => i * 7);
  const cifarMs = await timeBatches(60, (i) => cifar.getBatch('train', indices, { augment: true, seed: 0, epoch: i }));
  await cifar.close();
  console.log(`CIFAR-size batch of 32, crop + flip + normalise: median ${cifarMs.toFixed(3)} ms`);

  const root = mkdtempSync(join(tmpdir(), 'normlab-bench-folder-'));
  await writeJpegs(root, 'train', 2, 32);
  await writeJpegs(root, 'val', 2, 16);
  const folder = await openDataset({ dataset: 'folder', dataDir: root, normalize: true, imageSize: 224 });
  const all = Int32Array.from({ length: 32 }, (_, i) => i);
  const trainMs = await timeBatches(8, (i) => folder.getBatch('train', all, { augment: true, seed: 0, epoch: i }));
  const evalMs = await timeBatches(8, () => folder.getBatch('test', all, { augment: false, seed: 0 }));
  await folder.close();
  console.log(`ImageNet-style batch of 32 from 500×375 JPEGs: train (random-resized crop 224 + flip) median ${trainMs.toFixed(1)} ms, ` +
    `eval (resize 256 + centre crop 224) median ${evalMs.toFixed(1)} ms`);
}

await main();
