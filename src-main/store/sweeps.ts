import { StoreError } from './errors';
import type { StoreContext } from './store-context';
import { RUN_STATUSES } from './run-states';
import type { RunStatus, SweepRecord, SweepSummary } from './types';

interface SweepRow {
  id: number;
  name: string;
  spec_json: string;
  priority: number;
  created_at: number;
  updated_at: number;
}

function toSweepRecord(row: SweepRow): SweepRecord {
  return {
    id: row.id,
    name: row.name,
    spec: JSON.parse(row.spec_json) as unknown,
    priority: row.priority,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The `sweeps` table: a named spec whose runs are added to it, with run counts per status for overviews. */
export class Sweeps {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Creates the sweep, or returns the one with this name (its spec and priority updated to what is given), so
   * re-submitting a sweep spec adds to the same sweep instead of starting a twin.
   */
  upsert(input: { name: string; spec: unknown; priority?: number }): { sweep: SweepRecord; created: boolean } {
    const now = this.ctx.now();
    const existing = this.rowByName(input.name);
    if (existing) {
      this.ctx.stmt(`UPDATE sweeps SET spec_json = ?, priority = ?, updated_at = ? WHERE id = ?`).run(
        JSON.stringify(input.spec),
        input.priority ?? existing.priority,
        now,
        existing.id,
      );
      return { sweep: this.require(existing.id), created: false };
    }
    const info = this.ctx.stmt(
      `INSERT INTO sweeps (name, spec_json, priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(input.name, JSON.stringify(input.spec), input.priority ?? 0, now, now);
    return { sweep: this.require(Number(info.lastInsertRowid)), created: true };
  }

  get(id: number): SweepRecord | undefined {
    const row = this.ctx.stmt(`SELECT * FROM sweeps WHERE id = ?`).get(id) as SweepRow | undefined;
    return row && toSweepRecord(row);
  }

  findByName(name: string): SweepRecord | undefined {
    const row = this.rowByName(name);
    return row && toSweepRecord(row);
  }

  list(): SweepSummary[] {
    const sweeps = (this.ctx.stmt(`SELECT * FROM sweeps ORDER BY id`).all() as SweepRow[]).map(toSweepRecord);
    const counts = this.ctx.stmt(`SELECT sweep_id, status, COUNT(*) AS n FROM runs GROUP BY sweep_id, status`).all() as {
      sweep_id: number;
      status: RunStatus;
      n: number;
    }[];
    return sweeps.map((sweep) => {
      const runCounts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
      for (const c of counts) if (c.sweep_id === sweep.id) runCounts[c.status] = c.n;
      return { ...sweep, runCounts, totalRuns: Object.values(runCounts).reduce((a, b) => a + b, 0) };
    });
  }

  private require(id: number): SweepRecord {
    const sweep = this.get(id);
    // only reached right after this connection wrote the row
    if (!sweep) throw new StoreError(`${this.ctx.file}: sweep ${id} vanished right after it was written`);
    return sweep;
  }

  private rowByName(name: string): SweepRow | undefined {
    return this.ctx.stmt(`SELECT * FROM sweeps WHERE name = ?`).get(name) as SweepRow | undefined;
  }
}
