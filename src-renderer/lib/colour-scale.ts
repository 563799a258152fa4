/** The heatmaps' sequential palette, light (none) to dark (most), as echarts' visualMap and our colour bars use it. */
export const SHARE_PALETTE = ['#f8fafc', '#93c5fd', '#1d4ed8', '#0b1f4d'] as const;

function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The palette's colour at t ∈ [0, 1] (clamped), interpolated linearly between its stops as echarts does. */
export function paletteColour(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (SHARE_PALETTE.length - 1);
  const i = Math.min(SHARE_PALETTE.length - 2, Math.floor(x));
  const [a, b] = [hexToRgb(SHARE_PALETTE[i]), hexToRgb(SHARE_PALETTE[i + 1])];
  const f = x - i;
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(', ')})`;
}

/**
 * Where a share sits on the colour scale, 0..1, given the scale's top: the square root of share / max. Shares
 * span orders of magnitude on one page (a layer with all its units in one bin next to one spread over twenty),
 * and on a linear scale the spread ones would all look blank; the colour bars place their numbers on this
 * same scale, so a colour still reads as a number.
 */
export function colourPosition(share: number, max: number): number {
  if (!(max > 0) || !Number.isFinite(share)) return 0;
  return Math.sqrt(Math.min(1, Math.max(0, share / max)));
}

/**
 * Round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi], at most about `count` of them; ends included
 * only when they fall on a tick. For a colour bar's or a strip's numbers.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || count < 1) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  // a relative tolerance so 0.30000000000000004 still counts as inside [0, 0.3]
  const tolerance = step * 1e-9;
  for (let v = Math.ceil((lo - tolerance) / step) * step; v <= hi + tolerance; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A share (0..1) as a percentage with as many decimals as its size needs: 42 %, 3.5 %, 0.25 %. */
export function formatShare(share: number): string {
  if (!Number.isFinite(share)) return '–';
  const pct = share * 100;
  if (pct === 0) return '0 %';
  const digits = pct >= 10 ? 0 : pct >= 1 ? 1 : 2;
  return `${pct.toFixed(digits)} %`;
}

/**
 * The numbered ticks of a colour bar `length` pixels long for shares 0..max on colourPosition's scale: round
 * values at least `minGap` pixels apart, starting at 0 and always ending at max (which takes the place of a
 * round tick too close to it).
 */
export function colourBarTicks(max: number, length: number, minGap: number): { value: number; x: number }[] {
  const x = (v: number) => colourPosition(v, max) * length;
  const kept: number[] = [];
  for (const v of niceTicks(0, max, 8).filter((t) => t < max)) {
    if (kept.length === 0 || x(v) - x(kept[kept.length - 1]) >= minGap) kept.push(v);
  }
  if (kept.length > 1 && x(max) - x(kept[kept.length - 1]) < minGap) kept.pop();
  kept.push(max);
  return kept.map((value) => ({ value, x: x(value) }));
}
