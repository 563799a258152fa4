/**
 * torchvision's RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0) on a normalised HWC float image:
 * with probability p, up to 10 tries to draw a box of that area share and log-uniform aspect ratio that fits;
 * the first that fits is set to 0 (the normalised mean). Returns the box, or null when nothing was erased.
 */
export function randomErasing(
  image: Float32Array,
  shape: [number, number, number],
  rng: () => number,
  p = 0.1,
): { top: number; left: number; height: number; width: number } | null {
  if (rng() >= p) return null;
  const [h, w, c] = shape;
  const area = h * w;
  const [logLow, logHigh] = [Math.log(0.3), Math.log(3.3)];
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * (0.02 + (0.33 - 0.02) * rng());
    const aspect = Math.exp(logLow + (logHigh - logLow) * rng());
    const bh = Math.round(Math.sqrt(eraseArea * aspect));
    const bw = Math.round(Math.sqrt(eraseArea / aspect));
    if (!(bh < h && bw < w)) continue;
    const top = Math.floor(rng() * (h - bh + 1));
    const left = Math.floor(rng() * (w - bw + 1));
    for (let y = top; y < top + bh; y++) image.fill(0, (y * w + left) * c, (y * w + left + bw) * c);
    return { top, left, height: bh, width: bw };
  }
  return null;
}
