import type Database from 'better-sqlite3';
import { groupConfig } from './group-key';
import { runWhere } from './run-rows';
import { RUN_STATUSES } from './types';
import type { AggregateFilter, GroupAggregate, GroupCurve, MeanSd, RunSpec, RunStatus } from './types';

interface AggregateRow {
  group_key: string;
  rep_id: number;
  model: string;
  dataset: string;
  lr: number;
  batch_size: number;
  epochs: number;
  spec_json: string;
  seeds: string | null;
  status_counts: string;
  na: number | null; ma: number | null; sa: number | null;
  nb: number | null; mb: number | null; sb: number | null;
  nl: number | null; ml: number | null; sl: number | null;
}

function meanSd(n: number | null, mean: number | null, sumSquares: number | null): MeanSd {
  const count = n ?? 0;
  if (count === 0) return { n: 0, mean: null, sd: null };
  // sample SD (n − 1), as the paper reports spread over seeds
  const sd = count >= 2 && sumSquares !== null ? Math.sqrt(sumSquares / (count - 1)) : null;
  return { n: count, mean, sd };
}

/**
 * Mean ± sample SD of final test accuracy, best test accuracy and final test loss per config group, over the
 * group's finished runs. Two-pass (mean first, then squared deviations) in SQL: the one-pass sum-of-squares
 * formula loses digits when the spread is small next to the mean, which is exactly the case for accuracies.
 */
export function queryAggregates(db: Database.Database, filter: AggregateFilter): GroupAggregate[] {
  const where = runWhere(filter, 'runs');
  const sql = `
    WITH sel AS MATERIALIZED (
      SELECT id, group_key, status, seed, final_test_acc AS a, best_test_acc AS b, final_test_loss AS l
      FROM runs ${where.sql}
    ),
    fin AS (SELECT * FROM sel WHERE status = 'finished'),
    m AS (
      SELECT group_key, COUNT(a) AS na, AVG(a) AS ma, COUNT(b) AS nb, AVG(b) AS mb, COUNT(l) AS nl, AVG(l) AS ml,
             group_concat(seed) AS seeds
      FROM fin GROUP BY group_key
    ),
    v AS (
      SELECT fin.group_key, SUM((a - ma) * (a - ma)) AS sa, SUM((b - mb) * (b - mb)) AS sb, SUM((l - ml) * (l - ml)) AS sl
      FROM fin JOIN m USING (group_key) GROUP BY fin.group_key
    ),
    c AS (
      SELECT group_key, MIN(id) AS rep_id, json_group_object(status, k) AS status_counts
      FROM (SELECT group_key, status, COUNT(*) AS k, MIN(id) AS id FROM sel GROUP BY group_key, status)
      GROUP BY group_key
    )
    SELECT c.group_key, c.rep_id, c.status_counts, r.model, r.dataset, r.lr, r.batch_size, r.epochs, r.spec_json,
           m.seeds, m.na, m.ma, v.sa, m.nb, m.mb, v.sb, m.nl, m.ml, v.sl
    FROM c JOIN runs r ON r.id = c.rep_id
    LEFT JOIN m ON m.group_key = c.group_key
    LEFT JOIN v ON v.group_key = c.group_key
    ORDER BY c.rep_id`;
  const rows = db.prepare(sql).all(where.params) as AggregateRow[];
  return rows.map((row) => {
    const counts = JSON.parse(row.status_counts) as Partial<Record<RunStatus, number>>;
    const runCounts: Partial<Record<RunStatus, number>> = {};
    for (const status of RUN_STATUSES) if (counts[status]) runCounts[status] = counts[status];
    const seeds = row.seeds ? row.seeds.split(',').map(Number).sort((x, y) => x - y) : [];
    return {
      groupKey: row.group_key,
      model: row.model,
      dataset: row.dataset,
      lr: row.lr,
      batchSize: row.batch_size,
      epochs: row.epochs,
      config: groupConfig(JSON.parse(row.spec_json) as RunSpec),
      n: runCounts.finished ?? 0,
      seeds,
      runCounts,
      finalTestAcc: meanSd(row.na, row.ma, row.sa),
      bestTestAcc: meanSd(row.nb, row.mb, row.sb),
      finalTestLoss: meanSd(row.nl, row.ml, row.sl),
    };
  });
}

interface CurveRow {
  g: string;
  s: number;
  n: number;
  mean: number | null;
  ss: number | null;
}

/**
 * Per-epoch mean ± sample SD of one metric over the runs of each group. NaN values (stored as NULL) are left
 * out of a point, so `n` says how many runs each point stands on.
 */
export function queryCurves(
  db: Database.Database,
  keyId: number | undefined,
  groupKeys: readonly string[],
  metric: string,
  statuses: readonly RunStatus[],
): GroupCurve[] {
  const curves = new Map<string, GroupCurve>(groupKeys.map((g) => [g, { groupKey: g, metric, points: [] }]));
  if (keyId === undefined || groupKeys.length === 0) return [...curves.values()];
  const where = runWhere({ groupKey: [...groupKeys], status: [...statuses] }, 'r');
  const sql = `
    WITH pts AS MATERIALIZED (
      SELECT r.group_key AS g, m.step AS s, m.value AS v
      FROM runs r JOIN metrics m ON m.run_id = r.id AND m.key_id = @keyId
      ${where.sql} AND m.value IS NOT NULL
    ),
    mm AS (SELECT g, s, COUNT(*) AS n, AVG(v) AS mean FROM pts GROUP BY g, s)
    SELECT mm.g, mm.s, mm.n, mm.mean, SUM((pts.v - mm.mean) * (pts.v - mm.mean)) AS ss
    FROM mm JOIN pts ON pts.g = mm.g AND pts.s = mm.s
    GROUP BY mm.g, mm.s
    ORDER BY mm.g, mm.s`;
  const rows = db.prepare(sql).all({ ...where.params, keyId }) as CurveRow[];
  for (const row of rows) {
    curves.get(row.g)?.points.push({
      epoch: row.s,
      n: row.n,
      mean: row.mean,
      sd: row.n >= 2 && row.ss !== null ? Math.sqrt(row.ss / (row.n - 1)) : null,
    });
  }
  return [...curves.values()];
}
