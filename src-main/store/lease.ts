import type Database from 'better-sqlite3';

/** Who holds (or wants) the right to schedule a store's runs. */
export interface LeaseHolder {
  /** Random per scheduler instance: a pid alone is reused, and one process could open two schedulers. */
  owner: string;
  pid: number;
  host: string;
}

export interface LeaseRecord extends LeaseHolder {
  acquiredAt: number;
  heartbeatAt: number;
}

export type LeaseResult = { acquired: true; lease: LeaseRecord } | { acquired: false; holder: LeaseRecord };

interface LeaseRow {
  owner: string;
  pid: number;
  host: string;
  acquired_at: number;
  heartbeat_at: number;
}

const toRecord = (r: LeaseRow): LeaseRecord => ({ owner: r.owner, pid: r.pid, host: r.host, acquiredAt: r.acquired_at, heartbeatAt: r.heartbeat_at });

export function readLease(db: Database.Database): LeaseRecord | null {
  const row = db.prepare(`SELECT * FROM scheduler_lease WHERE id = 1`).get() as LeaseRow | undefined;
  return row ? toRecord(row) : null;
}

/**
 * Takes the lease when nobody holds it, when `me` already does, or when `isDead(holder)` says its holder is gone
 * (a stale heartbeat, a dead pid on this host). One IMMEDIATE transaction, so two processes starting together
 * cannot both win.
 */
export function acquireLease(db: Database.Database, me: LeaseHolder, now: number, isDead: (holder: LeaseRecord) => boolean): LeaseResult {
  return db.transaction((): LeaseResult => {
    const current = readLease(db);
    if (current && current.owner !== me.owner && !isDead(current)) return { acquired: false, holder: current };
    const acquiredAt = current?.owner === me.owner ? current.acquiredAt : now;
    db.prepare(`
      INSERT INTO scheduler_lease (id, owner, pid, host, acquired_at, heartbeat_at) VALUES (1, @owner, @pid, @host, @acquiredAt, @now)
      ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
        acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`).run({ ...me, acquiredAt, now });
    return { acquired: true, lease: { ...me, acquiredAt, heartbeatAt: now } };
  }).immediate();
}

/** Renews the heartbeat; false when the lease is no longer `owner`'s (it was judged dead and taken over). */
export function renewLease(db: Database.Database, owner: string, now: number): boolean {
  return db.prepare(`UPDATE scheduler_lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?`).run(now, owner).changes === 1;
}

export function releaseLease(db: Database.Database, owner: string): void {
  db.prepare(`DELETE FROM scheduler_lease WHERE id = 1 AND owner = ?`).run(owner);
}
