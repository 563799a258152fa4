/**
 * torchvision's TrivialAugmentWide (transforms/autoaugment.py) on one RGB image held as HWC bytes: one op drawn
 * uniformly from 14, one of 31 magnitude bins drawn uniformly, a random sign for the signed ops. Geometric ops
 * sample with nearest neighbour and fill with black, as torchvision does with fill=None. Blends clamp to
 * 0..255 and truncate to bytes, as torchvision's `_blend` does for uint8 tensors. These are torchvision's
 * tensor implementations; its PIL backend rounds greys and blends differently by at most one grey level.
 */
export interface RgbImage {
  width: number;
  height: number;
  /** HWC, 3 bytes per pixel. */
  data: Uint8Array;
}

export const TA_WIDE_OPS = [
  'Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Brightness', 'Color', 'Contrast',
  'Sharpness', 'Posterize', 'Solarize', 'AutoContrast', 'Equalize',
] as const;
export type TaWideOp = (typeof TA_WIDE_OPS)[number];

const BINS = 31;
const linspace = (from: number, to: number) => Array.from({ length: BINS }, (_, i) => from + ((to - from) * i) / (BINS - 1));

/** The "wide" augmentation space: magnitudes per op (null: the op takes none) and whether the sign is random. */
export const TA_WIDE_SPACE: Record<TaWideOp, { magnitudes: number[] | null; signed: boolean }> = {
  Identity: { magnitudes: null, signed: false },
  ShearX: { magnitudes: linspace(0, 0.99), signed: true },
  ShearY: { magnitudes: linspace(0, 0.99), signed: true },
  TranslateX: { magnitudes: linspace(0, 32), signed: true },
  TranslateY: { magnitudes: linspace(0, 32), signed: true },
  Rotate: { magnitudes: linspace(0, 135), signed: true },
  Brightness: { magnitudes: linspace(0, 0.99), signed: true },
  Color: { magnitudes: linspace(0, 0.99), signed: true },
  Contrast: { magnitudes: linspace(0, 0.99), signed: true },
  Sharpness: { magnitudes: linspace(0, 0.99), signed: true },
  // 8 − round(i / 5): 8 bits down to 2
  Posterize: { magnitudes: Array.from({ length: BINS }, (_, i) => 8 - Math.round(i / ((BINS - 1) / 6))), signed: false },
  Solarize: { magnitudes: linspace(255, 0), signed: false },
  AutoContrast: { magnitudes: null, signed: false },
  Equalize: { magnitudes: null, signed: false },
};

const toByte = (v: number) => Math.trunc(Math.min(255, Math.max(0, v)));

function mapPixels(img: RgbImage, f: (v: number, channel: number) => number): RgbImage {
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = toByte(f(img.data[i] ?? 0, i % 3));
  return { ...img, data };
}

/** torchvision's rgb_to_grayscale for uint8 tensors: 0.2989 R + 0.587 G + 0.114 B, truncated to a byte. */
function grayscale(img: RgbImage): Uint8Array {
  const gray = new Uint8Array(img.width * img.height);
  for (let p = 0; p < gray.length; p++) {
    gray[p] = toByte(0.2989 * (img.data[3 * p] ?? 0) + 0.587 * (img.data[3 * p + 1] ?? 0) + 0.114 * (img.data[3 * p + 2] ?? 0));
  }
  return gray;
}

/** ratio·img + (1 − ratio)·other, clamped and truncated. */
function blend(img: RgbImage, other: (i: number) => number, ratio: number): RgbImage {
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = toByte(ratio * (img.data[i] ?? 0) + (1 - ratio) * other(i));
  return { ...img, data };
}

/**
 * Output pixel (x, y) reads input pixel inverse(x, y) (nearest; black outside), coordinates measured from
 * `centre`: torchvision's affine with pixel centres at +0.5, as its tensor implementation samples.
 */
function remap(img: RgbImage, inverse: (x: number, y: number) => [number, number], centre: [number, number]): RgbImage {
  const { width, height } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [u, v] = inverse(x + 0.5 - centre[0], y + 0.5 - centre[1]);
      const sx = Math.floor(u + centre[0]);
      const sy = Math.floor(v + centre[1]);
      if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue;
      const s = 3 * (sy * width + sx);
      const d = 3 * (y * width + x);
      data[d] = img.data[s] ?? 0;
      data[d + 1] = img.data[s + 1] ?? 0;
      data[d + 2] = img.data[s + 2] ?? 0;
    }
  }
  return { ...img, data };
}

function sharpness(img: RgbImage, factor: number): RgbImage {
  // torchvision blends with a 3×3 smoothing ([1 1 1; 1 5 1; 1 1 1] / 13) of the interior; the border is kept
  const { width, height } = img;
  const blurred = Float64Array.from(img.data);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) sum += (dx === 0 && dy === 0 ? 5 : 1) * (img.data[3 * ((y + dy) * width + x + dx) + c] ?? 0);
        }
        blurred[3 * (y * width + x) + c] = Math.round(sum / 13);
      }
    }
  }
  return blend(img, (i) => blurred[i] ?? 0, factor);
}

function autocontrast(img: RgbImage): RgbImage {
  const lo = [255, 255, 255];
  const hi = [0, 0, 0];
  img.data.forEach((v, i) => {
    const c = i % 3;
    lo[c] = Math.min(lo[c] ?? 255, v);
    hi[c] = Math.max(hi[c] ?? 0, v);
  });
  return mapPixels(img, (v, c) => {
    const [l, h] = [lo[c] ?? 0, hi[c] ?? 255];
    return h === l ? v : ((v - l) * 255) / (h - l);
  });
}

/** torchvision's equalize per channel: lut[v] = ⌊(pixels below v + ⌊step/2⌋) / step⌋, step from all but the top bin. */
function equalize(img: RgbImage): RgbImage {
  const luts: number[][] = [];
  for (let c = 0; c < 3; c++) {
    const hist = new Array<number>(256).fill(0);
    for (let i = c; i < img.data.length; i += 3) hist[img.data[i] ?? 0] = (hist[img.data[i] ?? 0] ?? 0) + 1;
    const nonZero = hist.filter((h) => h > 0);
    const last = nonZero[nonZero.length - 1] ?? 0;
    const step = Math.floor((hist.reduce((a, b) => a + b, 0) - last) / 255);
    if (step === 0) {
      luts.push([...Array(256).keys()]);
      continue;
    }
    let cumulative = Math.floor(step / 2);
    const lut: number[] = [];
    for (let v = 0; v < 256; v++) {
      lut.push(Math.min(255, Math.floor(cumulative / step)));
      cumulative += hist[v] ?? 0;
    }
    luts.push(lut);
  }
  return mapPixels(img, (v, c) => luts[c]?.[v] ?? v);
}

/** One op at one signed magnitude, as torchvision's `_apply_op`. */
export function applyTaOp(img: RgbImage, op: TaWideOp, magnitude: number): RgbImage {
  const rad = (deg: number) => (deg * Math.PI) / 180;
  switch (op) {
    case 'Identity':
      return { ...img, data: Uint8Array.from(img.data) };
    case 'ShearX':
      // about the top-left corner, reading input x + m·y as PIL's AFFINE (1, m, 0, 0, 1, 0) does, which
      // torchvision's shear=[atan(m)°, 0], center=[0, 0] reproduces
      return remap(img, (x, y) => [x + magnitude * y, y], [0, 0]);
    case 'ShearY':
      return remap(img, (x, y) => [x, y + magnitude * x], [0, 0]);
    case 'TranslateX':
      return remap(img, (x, y) => [x - Math.trunc(magnitude), y], [0, 0]);
    case 'TranslateY':
      return remap(img, (x, y) => [x, y - Math.trunc(magnitude)], [0, 0]);
    case 'Rotate': {
      // counter-clockwise by `magnitude` degrees about the image centre (y points down)
      const [cos, sin] = [Math.cos(rad(magnitude)), Math.sin(rad(magnitude))];
      return remap(img, (x, y) => [cos * x - sin * y, sin * x + cos * y], [img.width / 2, img.height / 2]);
    }
    case 'Brightness':
      return blend(img, () => 0, 1 + magnitude);
    case 'Color': {
      const gray = grayscale(img);
      return blend(img, (i) => gray[Math.floor(i / 3)] ?? 0, 1 + magnitude);
    }
    case 'Contrast': {
      const gray = grayscale(img);
      const mean = gray.reduce((a, b) => a + b, 0) / Math.max(1, gray.length);
      return blend(img, () => mean, 1 + magnitude);
    }
    case 'Sharpness':
      return sharpness(img, 1 + magnitude);
    case 'Posterize': {
      const mask = (0xff << (8 - Math.trunc(magnitude))) & 0xff;
      return mapPixels(img, (v) => v & mask);
    }
    case 'Solarize':
      return mapPixels(img, (v) => (v >= magnitude ? 255 - v : v));
    case 'AutoContrast':
      return autocontrast(img);
    case 'Equalize':
      return equalize(img);
  }
}

/** The drawn op, bin and sign; `rng` must be seeded per (run, epoch, sample) for an exact resume. */
export function drawTaWide(rng: () => number): { op: TaWideOp; magnitude: number } {
  const op = TA_WIDE_OPS[Math.min(TA_WIDE_OPS.length - 1, Math.floor(rng() * TA_WIDE_OPS.length))] ?? 'Identity';
  const { magnitudes, signed } = TA_WIDE_SPACE[op];
  let magnitude = magnitudes ? (magnitudes[Math.min(BINS - 1, Math.floor(rng() * BINS))] ?? 0) : 0;
  if (signed && rng() < 0.5) magnitude = -magnitude;
  return { op, magnitude };
}

export function trivialAugmentWide(img: RgbImage, rng: () => number): RgbImage {
  const { op, magnitude } = drawTaWide(rng);
  return applyTaOp(img, op, magnitude);
}
