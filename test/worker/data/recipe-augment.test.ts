import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src-worker/data/random';
import { randomErasing } from '../../../src-worker/data/random-erasing';
import { repeatedAugmentationOrder } from '../../../src-worker/data/repeated-augmentation';
import { applyTaOp, drawTaWide, TA_WIDE_OPS, TA_WIDE_SPACE, type RgbImage } from '../../../src-worker/data/trivial-augment';

/** A width × height image whose pixel i has the value f(i) in every channel. */
function image(width: number, height: number, f: (i: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.fill(f(i), 3 * i, 3 * i + 3);
  return { width, height, data };
}
const firstChannel = (img: RgbImage) => Array.from({ length: img.width * img.height }, (_, i) => img.data[3 * i]);

describe('TrivialAugmentWide: the augmentation space', () => {
  it('has the 14 ops and the wide magnitudes (31 bins)', () => {
    expect(TA_WIDE_OPS).toHaveLength(14);
    expect(TA_WIDE_SPACE.Posterize.magnitudes?.slice(0, 6)).toEqual([8, 8, 8, 7, 7, 7]);
    expect(TA_WIDE_SPACE.Posterize.magnitudes?.[30]).toBe(2);
    expect(TA_WIDE_SPACE.Rotate.magnitudes?.[30]).toBe(135);
    expect(TA_WIDE_SPACE.TranslateX.magnitudes?.[15]).toBe(16);
    expect(TA_WIDE_SPACE.Solarize.magnitudes?.[0]).toBe(255);
    expect(TA_WIDE_SPACE.ShearX.magnitudes?.[30]).toBeCloseTo(0.99, 12);
  });
  it('draws every op, both signs, deterministically per seed', () => {
    const rng = mulberry32(5);
    const draws = Array.from({ length: 2000 }, () => drawTaWide(rng));
    expect(new Set(draws.map((d) => d.op)).size).toBe(14);
    expect(draws.some((d) => d.op === 'Rotate' && d.magnitude < 0)).toBe(true);
    expect(draws.filter((d) => d.op === 'Solarize').every((d) => d.magnitude >= 0)).toBe(true);
    expect(drawTaWide(mulberry32(9))).toEqual(drawTaWide(mulberry32(9)));
  });
});

describe('TrivialAugmentWide ops against hand-computed images', () => {
  const row = image(4, 1, (i) => [10, 20, 30, 40][i] ?? 0);
  it('translate moves right by the magnitude and fills with black', () => {
    expect(firstChannel(applyTaOp(row, 'TranslateX', 2))).toEqual([0, 0, 10, 20]);
    expect(firstChannel(applyTaOp(row, 'TranslateX', -1.7))).toEqual([20, 30, 40, 0]);
  });
  it('shear reads x + m·y from the top-left corner (PIL convention), nearest pixel centre', () => {
    const img = image(3, 3, (i) => 10 * (i + 1));
    // pixel centres at +0.5: row 0 reads x + 0.25 → x; rows 1 and 2 read x + 0.75 and x + 1.25 → x + 1
    expect(firstChannel(applyTaOp(img, 'ShearX', 0.5))).toEqual([10, 20, 30, 50, 60, 0, 80, 90, 0]);
  });
  it('rotate 90° turns counter-clockwise about the centre', () => {
    const img = image(2, 2, (i) => [1, 2, 3, 4][i] ?? 0); // [[1, 2], [3, 4]]
    expect(firstChannel(applyTaOp(img, 'Rotate', 90))).toEqual([2, 4, 1, 3]);
  });
  it('brightness, colour and contrast blend with black, grey and the mean grey, clamped and truncated', () => {
    expect(firstChannel(applyTaOp(row, 'Brightness', 0.5))).toEqual([15, 30, 45, 60]);
    expect(firstChannel(applyTaOp(image(1, 1, () => 200), 'Brightness', 0.9))).toEqual([255]);
    const coloured: RgbImage = { width: 1, height: 1, data: Uint8Array.from([200, 100, 0]) };
    // grey = trunc(0.2989·200 + 0.587·100) = 118; factor 0 gives the grey, factor 0.5 the halfway blend
    expect(Array.from(applyTaOp(coloured, 'Color', -1).data)).toEqual([118, 118, 118]);
    expect(Array.from(applyTaOp(coloured, 'Color', -0.5).data)).toEqual([159, 109, 59]);
    expect(firstChannel(applyTaOp(row, 'Contrast', -1))).toEqual([24, 24, 24, 24]); // mean grey 24.97 → 24
  });
  it('posterize keeps the top bits; solarize inverts at and above the threshold', () => {
    expect(firstChannel(applyTaOp(image(2, 1, (i) => [0b10110111, 0b01011010][i] ?? 0), 'Posterize', 3))).toEqual([0b10100000, 0b01000000]);
    expect(firstChannel(applyTaOp(image(3, 1, (i) => [100, 128, 200][i] ?? 0), 'Solarize', 128))).toEqual([100, 127, 55]);
  });
  it('autocontrast stretches each channel to 0..255; equalize flattens the histogram', () => {
    expect(firstChannel(applyTaOp(image(3, 1, (i) => [50, 100, 150][i] ?? 0), 'AutoContrast', 0))).toEqual([0, 127, 255]);
    // step = ⌊(all − the last bin) / 255⌋ = 0 for this tiny image, so nothing changes
    expect(firstChannel(applyTaOp(image(4, 1, (i) => [10, 10, 20, 20][i] ?? 0), 'Equalize', 0))).toEqual([10, 10, 20, 20]);
    // 300 + 300 pixels: step 1, lut[v] = pixels below v (clamped): 10 → 0, 20 → 300 → 255
    const two = applyTaOp(image(600, 1, (i) => (i < 300 ? 10 : 20)), 'Equalize', 0);
    expect([two.data[0], two.data[3 * 599]]).toEqual([0, 255]);
  });
  it('sharpness 0 gives the 3×3 smoothed interior and keeps the border', () => {
    const img = image(3, 3, (i) => (i === 4 ? 130 : 0));
    expect(firstChannel(applyTaOp(img, 'Sharpness', -1))).toEqual([0, 0, 0, 0, 50, 0, 0, 0, 0]); // 5·130/13
  });
});

describe('RandomErasing', () => {
  it('with p = 1 zeroes one box of 2–33 % of the image and nothing else', () => {
    const shape: [number, number, number] = [20, 30, 3];
    for (let seed = 0; seed < 20; seed++) {
      const img = new Float32Array(20 * 30 * 3).fill(1);
      const box = randomErasing(img, shape, mulberry32(seed), 1);
      if (!box) continue;
      const zeros = img.filter((v) => v === 0).length / 3;
      expect(zeros).toBe(box.height * box.width);
      expect(zeros / 600).toBeGreaterThan(0.015);
      expect(zeros / 600).toBeLessThan(0.35);
      expect(img[(box.top * 30 + box.left) * 3]).toBe(0);
    }
    const untouched = new Float32Array(600 * 3).fill(1);
    expect(randomErasing(untouched, shape, mulberry32(1), 0)).toBeNull();
  });
});

describe('repeated-augmentation sampler', () => {
  it('repeats each drawn index 4 times in a row and keeps ⌊N/256⌋·256 samples', () => {
    const order = repeatedAugmentationOrder(700, 4, mulberry32(3));
    expect(order.length).toBe(512);
    for (let i = 0; i < 512; i += 4) expect(new Set(order.slice(i, i + 4)).size).toBe(1);
    expect(new Set(order).size).toBe(128);
    expect(() => repeatedAugmentationOrder(100, 4, mulberry32(1))).toThrow(/needs at least 256 training samples, got 100/);
  });
});
