import sharp from 'sharp';
import { hashInts, mulberry32, STREAM } from '../random';
import { DataError } from '../types';
import { IGNORE, toTrainIds } from './labels';
import type { CityscapesPair } from './layout';

/** One image (RGB, HWC bytes) and its train-id mask (HW bytes, 255 = ignore), the same size. */
export interface SegmentationSample {
  width: number;
  height: number;
  image: Uint8Array;
  label: Uint8Array;
}

async function decodeRaw(file: string, channels: 1 | 3): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    const pipeline = channels === 3 ? sharp(file).removeAlpha().toColourspace('srgb') : sharp(file).extractChannel(0);
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (error) {
    throw new DataError(`Cityscapes: cannot decode ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Decodes a pair at full resolution (the paper evaluates at 2048×1024) and maps labelIds to train ids. */
export async function readPair(pair: CityscapesPair): Promise<SegmentationSample> {
  const [image, mask] = await Promise.all([decodeRaw(pair.image, 3), decodeRaw(pair.mask, 1)]);
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new DataError(`Cityscapes: ${pair.stem}: image is ${image.width}×${image.height} but its mask is ${mask.width}×${mask.height}`);
  }
  return { width: image.width, height: image.height, image: image.data, label: toTrainIds(mask.data) };
}

/** The paper's training augmentation, drawn: scale in [0.5, 2.0], a crop position and a horizontal flip. */
export interface SegmentationAugmentation {
  scale: number;
  /** Where the crop starts in the scaled image, as a fraction of the room there is (0..1). */
  cropX: number;
  cropY: number;
  flip: boolean;
}

export function drawAugmentation(seed: number, epoch: number, index: number, scaleRange: [number, number] = [0.5, 2]): SegmentationAugmentation {
  const rng = mulberry32(hashInts(seed, epoch, index, STREAM.augment));
  const [low, high] = scaleRange;
  return { scale: low + (high - low) * rng(), cropX: rng(), cropY: rng(), flip: rng() < 0.5 };
}

/**
 * Scales image (bilinear) and mask (nearest: labels must not blend) together, crops `crop` = [width, height]
 * at the drawn position — padding with black and with the ignore label where the scaled image is smaller — and
 * flips both. libvips does the resizing in its own threads, off the JS thread.
 */
export async function augmentSample(
  sample: SegmentationSample,
  aug: SegmentationAugmentation,
  crop: [number, number],
): Promise<SegmentationSample> {
  const [cropW, cropH] = crop;
  const width = Math.max(1, Math.round(sample.width * aug.scale));
  const height = Math.max(1, Math.round(sample.height * aug.scale));
  const resize = async (data: Uint8Array, channels: 1 | 3, kernel: 'linear' | 'nearest') => {
    let pipeline = sharp(data, { raw: { width: sample.width, height: sample.height, channels } }).resize(width, height, { kernel, fit: 'fill' });
    // libvips widens a one-band raw image to sRGB on output; the mask must stay one byte per pixel
    if (channels === 1) pipeline = pipeline.extractChannel(0);
    return new Uint8Array(await pipeline.raw().toBuffer());
  };
  const [image, label] = width === sample.width && height === sample.height
    ? [sample.image, sample.label]
    : await Promise.all([resize(sample.image, 3, 'linear'), resize(sample.label, 1, 'nearest')]);
  const left = Math.floor(Math.max(0, width - cropW) * Math.min(aug.cropX, 1 - 1e-9));
  const top = Math.floor(Math.max(0, height - cropH) * Math.min(aug.cropY, 1 - 1e-9));
  const outImage = new Uint8Array(cropW * cropH * 3);
  const outLabel = new Uint8Array(cropW * cropH).fill(IGNORE);
  for (let y = 0; y < Math.min(cropH, height - top); y++) {
    for (let x = 0; x < Math.min(cropW, width - left); x++) {
      const src = (top + y) * width + (left + x);
      const dstX = aug.flip ? cropW - 1 - x : x;
      const dst = y * cropW + dstX;
      outLabel[dst] = label[src] ?? IGNORE;
      outImage[3 * dst] = image[3 * src] ?? 0;
      outImage[3 * dst + 1] = image[3 * src + 1] ?? 0;
      outImage[3 * dst + 2] = image[3 * src + 2] ?? 0;
    }
  }
  return { width: cropW, height: cropH, image: outImage, label: outLabel };
}
