import type { StoreContext } from './store-context';

/** Metric names as ids (`metric_keys`): history rows carry a small integer, not the name. Ids never change, so they are cached. */
export class MetricKeys {
  private readonly ids = new Map<string, number>();
  /** Keys inserted by the transaction in progress: their ids are only real once it commits. */
  private readonly uncommitted = new Set<string>();

  constructor(private readonly ctx: StoreContext) {}

  /** The id of `key`, or undefined when no run ever recorded it. */
  lookup(key: string): number | undefined {
    const cached = this.ids.get(key);
    if (cached !== undefined) return cached;
    const row = this.ctx.stmt(`SELECT id FROM metric_keys WHERE key = ?`).get(key) as { id: number } | undefined;
    if (row) this.ids.set(key, row.id);
    return row?.id;
  }

  /** The id of `key`, inserted if new; call inside `inTransaction`, which forgets the ids a rollback undid. */
  idFor(key: string): number {
    const known = this.lookup(key);
    if (known !== undefined) return known;
    const id = Number(this.ctx.stmt(`INSERT INTO metric_keys (key) VALUES (?)`).run(key).lastInsertRowid);
    this.ids.set(key, id);
    this.uncommitted.add(key);
    return id;
  }

  /** Runs `write` in a transaction; if it fails, ids it created are dropped from the cache with the rows. */
  inTransaction(write: () => void): void {
    try {
      this.ctx.db.transaction(write)();
    } catch (error) {
      for (const key of this.uncommitted) this.ids.delete(key);
      throw error;
    } finally {
      this.uncommitted.clear();
    }
  }
}
