import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { hashInts, mulberry32 } from '../random';
import { CITYSCAPES_CLASSES } from './labels';

/** The classes the generated scenes use, by labelId; 1 (ego vehicle) is one of the ignored ones. */
const SKY = 23;
const BUILDING = 11;
const ROAD = 7;
const SIDEWALK = 8;
const VEGETATION = 21;
const CAR = 26;
const PERSON = 24;
const EGO_VEHICLE = 1;

function colorOf(labelId: number): readonly number[] {
  return CITYSCAPES_CLASSES.find((c) => c.labelId === labelId)?.color ?? [40, 40, 40];
}

/**
 * A street-like scene: sky, buildings, sidewalk and road bands with cars, people and trees on them, and an
 * ignored ego-vehicle strip at the bottom. Every region is textured (class colour plus a class-specific
 * stripe pattern and pixel noise), so no window is flat, unlike a synthetic set of plain shapes.
 */
function scene(width: number, height: number, seed: number): { rgb: Uint8Array; labelIds: Uint8Array } {
  const rng = mulberry32(seed);
  const labelIds = new Uint8Array(width * height);
  const horizon = Math.floor(height * (0.3 + 0.15 * rng()));
  const kerb = Math.floor(height * (0.55 + 0.1 * rng()));
  const ego = Math.floor(height * 0.92);
  for (let y = 0; y < height; y++) {
    const band = y < horizon ? SKY : y < Math.floor((horizon + kerb) / 2) ? BUILDING : y < kerb ? SIDEWALK : y < ego ? ROAD : EGO_VEHICLE;
    labelIds.fill(band, y * width, (y + 1) * width);
  }
  const paint = (labelId: number, x0: number, y0: number, w: number, h: number, round: boolean) => {
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x++) {
        const dx = (x - x0 - w / 2) / (w / 2);
        const dy = (y - y0 - h / 2) / (h / 2);
        if (!round || dx * dx + dy * dy <= 1) labelIds[y * width + x] = labelId;
      }
    }
  };
  for (let i = 0; i < 2; i++) {
    const size = Math.max(3, Math.floor(height * (0.15 + 0.1 * rng())));
    paint(VEGETATION, Math.floor(rng() * width), horizon - Math.floor(size / 2), size, size, true);
  }
  for (let i = 0; i < 2; i++) {
    const w = Math.max(4, Math.floor(width * (0.12 + 0.08 * rng())));
    const h = Math.max(2, Math.floor(w * 0.45));
    paint(CAR, Math.floor(rng() * (width - w)), kerb + Math.floor(rng() * Math.max(1, ego - kerb - h)), w, h, false);
  }
  const personH = Math.max(3, Math.floor(height * 0.2));
  paint(PERSON, Math.floor(rng() * width), kerb - personH + 1, Math.max(1, Math.floor(personH / 3)), personH, false);

  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const id = labelIds[i] ?? 0;
    const x = i % width;
    const y = Math.floor(i / width);
    // a stripe frequency and direction per class, so texture as well as colour tells classes apart
    const stripes = 22 * Math.sin(((id % 5) + 1) * 0.9 * (id % 2 ? x : y) + id);
    const color = colorOf(id);
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.max(0, Math.min(255, Math.round((color[c] ?? 0) + stripes + 30 * (rng() - 0.5))));
  }
  return { rgb, labelIds };
}

export interface SyntheticCityscapesOptions {
  trainImages: number;
  valImages: number;
  /** Width × height of every image; 2:1 like Cityscapes' 2048×1024 (default 128×64). */
  width?: number;
  height?: number;
  seed?: number;
}

/**
 * Writes a deterministic synthetic segmentation set in the official Cityscapes layout (cities "synthA" and
 * "synthB"), so the real reader reads it: for tests and the demo, where the real set cannot be downloaded.
 */
export async function writeSyntheticCityscapes(root: string, opts: SyntheticCityscapesOptions): Promise<void> {
  const width = opts.width ?? 128;
  const height = opts.height ?? 64;
  for (const [split, count] of [['train', opts.trainImages], ['val', opts.valImages]] as const) {
    for (let i = 0; i < count; i++) {
      const city = i % 2 === 0 ? 'synthA' : 'synthB';
      const stem = `${city}_${String(split === 'train' ? 0 : 1).padStart(6, '0')}_${String(i).padStart(6, '0')}`;
      const { rgb, labelIds } = scene(width, height, hashInts(opts.seed ?? 0, split === 'train' ? 0 : 1, i));
      const imageDir = join(root, 'leftImg8bit', split, city);
      const maskDir = join(root, 'gtFine', split, city);
      await mkdir(imageDir, { recursive: true });
      await mkdir(maskDir, { recursive: true });
      await writeFile(join(imageDir, `${stem}_leftImg8bit.png`), await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer());
      await writeFile(join(maskDir, `${stem}_gtFine_labelIds.png`), await sharp(labelIds, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    }
  }
}
