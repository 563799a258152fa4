import type { NormStatsRecord, RunRecord } from '../../src-main/store/types';
import type { NearConstantShare, NormUnit } from '../../src-worker/kn/stats';

/** One norm layer of a run and its sampled statistics, by step. */
export interface LayerTrack {
  layer: string;
  kind: NormStatsRecord['kind'];
  /** Position in the forward pass, 0 = first norm layer. */
  index: number;
  /** index / (layers − 1): 0 at the first norm layer, 1 at the last, comparable across models of any depth. */
  depth: number;
  records: NormStatsRecord[];
}

/**
 * A run's statistics split into one track per layer, ordered by depth: by the order the layers reported in
 * their first sampled step, which is the order of the forward pass (names are not: block0.0 vs layer0.1).
 */
export function layerTracks(records: readonly NormStatsRecord[]): LayerTrack[] {
  const byLayer = new Map<string, NormStatsRecord[]>();
  for (const r of records) {
    const list = byLayer.get(r.layer);
    if (list) list.push(r);
    else byLayer.set(r.layer, [r]);
  }
  const firstSeen = (list: NormStatsRecord[]) => list.reduce((a, b) => (b.step < a.step || (b.step === a.step && b.id < a.id) ? b : a));
  const ordered = [...byLayer.values()]
    .map((list) => ({ list: [...list].sort((a, b) => a.step - b.step), first: firstSeen(list) }))
    .sort((a, b) => a.first.step - b.first.step || a.first.id - b.first.id);
  const last = Math.max(1, ordered.length - 1);
  return ordered.map(({ list }, index) => ({
    layer: list[0].layer, kind: list[0].kind, index, depth: ordered.length === 1 ? 0 : index / last, records: list,
  }));
}

/**
 * For each layer of `left`, the layer of `right` at the nearest normalized depth (null when `right` has none):
 * a KNResNet-18 and a ResNet-18 have different numbers of norm layers and different names for them.
 */
export function pairByDepth(left: readonly LayerTrack[], right: readonly LayerTrack[]): (LayerTrack | null)[] {
  if (right.length === 0) return left.map(() => null);
  return left.map((l) => right[Math.round(l.depth * (right.length - 1))]);
}

/** Every step at which any layer was sampled, ascending. */
export function sampledSteps(tracks: readonly LayerTrack[]): number[] {
  const steps = new Set<number>();
  for (const t of tracks) for (const r of t.records) steps.add(r.step);
  return [...steps].sort((a, b) => a - b);
}

/** The layer's latest sample at or before `step` (null: not sampled yet). `step` null means the latest of all. */
export function recordAt(track: LayerTrack, step: number | null): NormStatsRecord | null {
  if (step === null) return track.records.at(-1) ?? null;
  let found: NormStatsRecord | null = null;
  for (const r of track.records) {
    if (r.step > step) break;
    found = r;
  }
  return found;
}

/** The near-constant share of each sample that has one (statistics recorded before it existed have none). */
export function nearConstantSeries(track: LayerTrack): { step: number; epoch: number; share: NearConstantShare }[] {
  return track.records.flatMap((r) => (r.std.nearConstant ? [{ step: r.step, epoch: r.epoch, share: r.std.nearConstant }] : []));
}

const DEFAULT_UNIT: Record<NormStatsRecord['kind'], NormUnit> = { kn: 'windows', bn: 'channels', gn: 'groups', ln: 'samples' };

/** What one normalizing mean/SD is taken over, as the worker recorded it, or the kind's usual unit for old rows. */
export function unitOf(kind: NormStatsRecord['kind'], share?: NearConstantShare | null): NormUnit {
  return share?.unit ?? DEFAULT_UNIT[kind];
}

/** The unit in words for tooltips and labels ("% of windows", "% of channels"). */
export const UNIT_WORDS: Record<NormUnit, string> = {
  windows: 'windows', channels: 'channels', groups: 'groups (per sample)', samples: 'samples', positions: 'pixels',
};

/** KN, BN, GN or LN as the model name says (kn… / fc_kn… / …_bn), or the name itself when it says none. */
export function normFamily(model: string): string {
  if (/(^|_)kn/.test(model)) return 'kn';
  return /_(bn|gn|ln)$/.exec(model)?.[1] ?? model;
}

/**
 * The run to show next to `run`: one with another normalization, preferring the same sweep and seed, then the
 * same sweep, then any; within each, the same batch size, data set and width first. Null when there is none.
 */
export function companionRun(runs: readonly RunRecord[], run: RunRecord): RunRecord | null {
  const family = normFamily(run.model);
  const others = runs.filter((r) => r.id !== run.id);
  const differing = others.filter((r) => normFamily(r.model) !== family);
  const pool = differing.length > 0 ? differing : others;
  const rank = (r: RunRecord): number[] => [
    r.sweepId === run.sweepId ? (r.seed === run.seed ? 0 : 1) : 2,
    r.batchSize === run.batchSize ? 0 : 1,
    r.dataset === run.dataset ? 0 : 1,
    r.spec.width === run.spec.width ? 0 : 1,
    r.id,
  ];
  const better = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
    return false;
  };
  let best: RunRecord | null = null;
  let bestRank: number[] = [];
  for (const r of pool) {
    const k = rank(r);
    if (!best || better(k, bestRank)) [best, bestRank] = [r, k];
  }
  return best;
}
