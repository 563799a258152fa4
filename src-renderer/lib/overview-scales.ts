import { rebinShares, sharedRange, type ValueRange } from './kernel-stats';
import { pairByDepth, recordAt, type LayerTrack } from './layer-depth';

export const STRIP_BINS = 24;

export interface PanelScales {
  meanRange: ValueRange | null;
  stdRange: ValueRange | null;
}

export interface OverviewScales {
  /** Per column (run), per layer: the value axes of its strips, shared with the layer it is paired with. */
  panels: PanelScales[][];
  /** Top of the colour scale: the largest bin share of any strip on the page. */
  colourMax: number;
  /** Top of every near-constant sparkline: a round value at or above the largest share of either run. */
  shareMax: number;
  /** First and last sampled step of either run: every sparkline's x-axis. */
  steps: [number, number];
}

/** `v` rounded up in its leading digit (0.27 → 0.3, 0.031 → 0.04), at most 1; 1 % when nothing is near-constant. */
export function roundShareUp(v: number): number {
  if (!(v > 0)) return 0.01;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  return Math.min(1, Number((Math.ceil(v / magnitude - 1e-9) * magnitude).toPrecision(12)));
}

/**
 * The scales of the overview for one run or two side by side at `step` (null: each layer's latest sample):
 * a layer's strips use the same value axis as its partner at the same depth in the other run, and colours,
 * share axis and steps are the same for every panel, so equal looks mean equal numbers.
 */
export function overviewScales(columns: readonly LayerTrack[][], step: number | null): OverviewScales {
  const partners = columns.map((tracks, c) => (columns.length === 2 ? pairByDepth(tracks, columns[1 - c]) : tracks.map(() => null)));
  let colourMax = 0;
  let shareMax = 0;
  let first = Infinity;
  let last = -Infinity;
  const panels = columns.map((tracks, c) =>
    tracks.map((track, i) => {
      const own = recordAt(track, step);
      const partner = partners[c][i];
      const theirs = partner ? recordAt(partner, step) : null;
      const both = [own, theirs].filter((r) => r !== null);
      const meanRange = sharedRange(both.map((r) => r.mean));
      const stdRange = sharedRange(both.map((r) => r.std));
      for (const [summary, range] of [[own?.mean, meanRange], [own?.std, stdRange]] as const) {
        if (!summary || !range) continue;
        for (const s of rebinShares(summary.histogram, range, STRIP_BINS) ?? []) colourMax = Math.max(colourMax, s);
      }
      for (const r of track.records) {
        first = Math.min(first, r.step);
        last = Math.max(last, r.step);
        shareMax = Math.max(shareMax, r.std.nearConstant?.share ?? 0);
      }
      return { meanRange, stdRange };
    }),
  );
  return {
    panels, colourMax: colourMax || 1, shareMax: roundShareUp(shareMax),
    steps: Number.isFinite(first) ? [first, last] : [0, 1],
  };
}

/** The value axes of a layer's evolution heatmaps, shared by the layers shown together (a layer and its partner). */
export function evolutionRanges(tracks: readonly LayerTrack[]): PanelScales {
  const records = tracks.flatMap((t) => t.records);
  return { meanRange: sharedRange(records.map((r) => r.mean)), stdRange: sharedRange(records.map((r) => r.std)) };
}
