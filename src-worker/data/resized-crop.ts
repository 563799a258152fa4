/** Pixel boxes for the ImageNet-style transforms, with torchvision's semantics. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * RandomResizedCrop's box (torchvision get_params): ten tries at an area fraction in `scale` and a
 * log-uniform aspect ratio in `ratio`; if none fits, the largest centred box whose ratio is clamped to `ratio`.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: () => number,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): Box {
  const area = width * height;
  const logLow = Math.log(ratio[0]);
  const logHigh = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng());
    const aspect = Math.exp(logLow + (logHigh - logLow) * rng());
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = Math.floor(rng() * (height - h + 1));
      const left = Math.floor(rng() * (width - w + 1));
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** Resize(shorter side → resize) then CenterCrop(crop): the resized size and the crop box inside it. */
export function resizeCenterCrop(width: number, height: number, resize: number, crop: number): { width: number; height: number; box: Box } {
  const [outW, outH] = width <= height ? [resize, Math.floor((resize * height) / width)] : [Math.floor((resize * width) / height), resize];
  return {
    width: outW,
    height: outH,
    box: { left: Math.round((outW - crop) / 2), top: Math.round((outH - crop) / 2), width: crop, height: crop },
  };
}

/** The paper's eval resize: 256 for 224 crops, scaled proportionally for other sizes. */
export function evalResizeFor(imageSize: number): number {
  return Math.round((imageSize * 256) / 224);
}
