import { hashInts, mulberry32, randomInt, STREAM } from './random';

/** Where the random crop starts relative to the unpadded image (in −pad..pad), and whether to mirror it. */
export interface CropFlip {
  dy: number;
  dx: number;
  flip: boolean;
}

/**
 * torchvision's RandomCrop(size, padding=pad) followed by RandomHorizontalFlip(0.5), drawn from
 * (seed, epoch, index) alone.
 */
export function cifarCropFlip(seed: number, epoch: number, index: number, pad = 4): CropFlip {
  const rng = mulberry32(hashInts(seed, epoch, index, STREAM.augment));
  const dy = randomInt(rng, -pad, pad);
  const dx = randomInt(rng, -pad, pad);
  return { dy, dx, flip: rng() < 0.5 };
}

/**
 * Writes one HWC byte image as floats through per-channel tables, optionally cropped (same size, shifted,
 * out-of-image pixels read as byte 0 like a zero-padded image) and mirrored.
 */
export function writeImage(
  src: Uint8Array,
  srcOffset: number,
  shape: [number, number, number],
  out: Float32Array,
  outOffset: number,
  tables: Float32Array[],
  cropFlip: CropFlip | null,
): void {
  const [h, w, c] = shape;
  if (cropFlip === null) {
    const n = h * w * c;
    if (c === 3) {
      const [t0, t1, t2] = tables as [Float32Array, Float32Array, Float32Array];
      for (let i = 0; i < n; i += 3) {
        out[outOffset + i] = t0[src[srcOffset + i]]!;
        out[outOffset + i + 1] = t1[src[srcOffset + i + 1]]!;
        out[outOffset + i + 2] = t2[src[srcOffset + i + 2]]!;
      }
    } else {
      for (let i = 0; i < n; i++) out[outOffset + i] = tables[i % c][src[srcOffset + i]]!;
    }
    return;
  }
  const { dy, dx, flip } = cropFlip;
  let o = outOffset;
  for (let y = 0; y < h; y++) {
    const sy = y + dy;
    const rowInside = sy >= 0 && sy < h;
    for (let x = 0; x < w; x++) {
      const sx = (flip ? w - 1 - x : x) + dx;
      if (rowInside && sx >= 0 && sx < w) {
        const s = srcOffset + (sy * w + sx) * c;
        for (let ch = 0; ch < c; ch++) out[o + ch] = tables[ch][src[s + ch]]!;
      } else {
        for (let ch = 0; ch < c; ch++) out[o + ch] = tables[ch][0]!;
      }
      o += c;
    }
  }
}
