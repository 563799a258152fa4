import type { DistributionSummary, NearConstantShare } from '../../src-worker/kn/stats';
import type { StoreContext } from './store-context';
import type { LatestMetric, MetricPoint, NormStatsRecord } from './types';

const NORM_UNITS = new Set<string>(['windows', 'channels', 'groups', 'samples', 'positions']);

function isNearConstantShare(v: unknown): v is NearConstantShare {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  const finite = (k: string) => typeof r[k] === 'number' && Number.isFinite(r[k]);
  return finite('share') && finite('count') && finite('total') && finite('eps') && finite('factor')
    && typeof r.unit === 'string' && NORM_UNITS.has(r.unit);
}

/**
 * A stored std summary as the UI may rely on it: rows written before the near-constant share existed have
 * none, and one that does not have its shape (another version's field of that name) is left out rather than
 * shown wrong.
 */
function readStdSummary(std: DistributionSummary): DistributionSummary {
  if (std.nearConstant === undefined || isNearConstantShare(std.nearConstant)) return std;
  const { nearConstant: _dropped, ...rest } = std;
  return rest;
}

/** Reads of a run's metric history, its latest values and its normalization statistics (NaN is stored as NULL). */
export class MetricReads {
  constructor(private readonly ctx: StoreContext) {}

  history(runId: number, key?: string): Record<string, MetricPoint[]> {
    const rows = this.ctx.stmt(`
      SELECT k.key, m.step, m.value, m.time FROM metrics m JOIN metric_keys k ON k.id = m.key_id
      WHERE m.run_id = @runId AND (@key IS NULL OR k.key = @key) ORDER BY k.key, m.step`).all({
      runId,
      key: key ?? null,
    }) as { key: string; step: number; value: number | null; time: number }[];
    const out: Record<string, MetricPoint[]> = {};
    for (const r of rows) (out[r.key] ??= []).push({ step: r.step, value: r.value ?? NaN, time: r.time });
    return out;
  }

  latest(runId: number): Record<string, LatestMetric> {
    const rows = this.ctx.stmt(`
      SELECT k.key, l.step, l.value, l.time FROM latest_metrics l JOIN metric_keys k ON k.id = l.key_id
      WHERE l.run_id = ? ORDER BY k.key`).all(runId) as { key: string; step: number; value: number | null; time: number }[];
    return Object.fromEntries(rows.map((r) => [r.key, { key: r.key, step: r.step, value: r.value ?? NaN, time: r.time }]));
  }

  normStats(runId: number, layer?: string): NormStatsRecord[] {
    const rows = this.ctx.stmt(`
      SELECT * FROM norm_stats WHERE run_id = @runId AND (@layer IS NULL OR layer = @layer)
      ORDER BY step, layer, id`).all({ runId, layer: layer ?? null }) as {
      id: number; run_id: number; epoch: number; step: number; layer: string; kind: NormStatsRecord['kind'];
      summary_json: string; time: number;
    }[];
    return rows.map((r) => {
      const summary = JSON.parse(r.summary_json) as Pick<NormStatsRecord, 'mean' | 'std'>;
      return {
        id: r.id, runId: r.run_id, epoch: r.epoch, step: r.step, layer: r.layer, kind: r.kind,
        mean: summary.mean, std: readStdSummary(summary.std), time: r.time,
      };
    });
  }

  /** Layers that have statistics, in the order they were first recorded. */
  normLayers(runId: number): { layer: string; kind: NormStatsRecord['kind'] }[] {
    return this.ctx.stmt(`SELECT layer, kind FROM norm_stats WHERE run_id = ? GROUP BY layer ORDER BY MIN(id)`).all(
      runId,
    ) as { layer: string; kind: NormStatsRecord['kind'] }[];
  }
}
