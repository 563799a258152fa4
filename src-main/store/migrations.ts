import type Database from 'better-sqlite3';
import type { RunSpec } from '../../src-worker/run-spec';
import { groupConfig, groupKeyOfConfig } from './group-key';

/** A migration is SQL, or a function for steps SQL cannot express (hashing a stored spec). */
export type Migration = string | ((db: Database.Database) => void);

/**
 * Recomputes every stored config-group key (`runs.group_key`, `runs.run_key`, `config_groups.group_key`) with
 * the current key function, from the specs and configs the rows hold, so re-submitting a sweep finds the runs it
 * made before. Appending this step again is how a later change to the key (a changed default) reaches old files.
 */
function rekeyConfigGroups(db: Database.Database): void {
  const runs = db.prepare(`SELECT id, seed, spec_json FROM runs`).all() as { id: number; seed: number; spec_json: string }[];
  const updateRun = db.prepare(`UPDATE runs SET group_key = ?, run_key = ? WHERE id = ?`);
  for (const run of runs) {
    // stored specs were parsed before they were written, so every field a key reads is there; parsing them
    // again is not needed, and would refuse a spec an older schema accepted
    const spec = JSON.parse(run.spec_json) as RunSpec;
    const groupKey = groupKeyOfConfig(groupConfig(spec));
    try {
      updateRun.run(groupKey, `${groupKey}:${run.seed}`, run.id);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`re-keying run ${run.id}: ${why} (another run of its sweep has the same configuration and seed)`, { cause: error });
    }
  }
  const groups = db.prepare(`SELECT * FROM config_groups`).all() as { group_key: string; model: string; dataset: string; lr: number; batch_size: number; epochs: number; config_json: string }[];
  db.exec(`DELETE FROM config_groups`);
  const insert = db.prepare(`
    INSERT INTO config_groups (group_key, model, dataset, lr, batch_size, epochs, config_json)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_key) DO NOTHING`);
  for (const g of groups) {
    const config = JSON.parse(g.config_json) as Record<string, unknown>;
    insert.run(groupKeyOfConfig(config), g.model, g.dataset, g.lr, g.batch_size, g.epochs, g.config_json);
  }
}

/**
 * Numbered schema migrations; migration i (1-based) takes the file from user_version i-1 to i. Append only:
 * a released migration is never edited, because files already at that version would not see the change.
 */
export const MIGRATIONS: readonly Migration[] = [
  /* 1: initial schema */ `
  CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    spec_json   TEXT NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
  );

  CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    sweep_id         INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    group_key        TEXT NOT NULL,
    run_key          TEXT NOT NULL,
    model            TEXT NOT NULL,
    dataset          TEXT NOT NULL,
    seed             INTEGER NOT NULL,
    lr               REAL NOT NULL,
    batch_size       INTEGER NOT NULL,
    epochs           INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued','running','finished','failed','diverged','cancelled','interrupted')),
    priority         INTEGER NOT NULL DEFAULT 0,
    device           TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error_reason     TEXT,
    stderr_tail      TEXT,
    spec_json        TEXT NOT NULL,
    final_test_acc   REAL,
    best_test_acc    REAL,
    final_test_loss  REAL,
    epochs_completed INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    UNIQUE (sweep_id, run_key)
  );
  -- the scheduler's queue: next queued run by priority, then FIFO
  CREATE INDEX runs_queue ON runs (status, priority DESC, id);
  -- mean ± SD over seeds: one range scan per group (or per sweep, in group order), every value the
  -- aggregate needs read from the index alone, never from the wide rows with their spec JSON
  CREATE INDEX runs_group ON runs (group_key, status, seed, final_test_acc, best_test_acc, final_test_loss);
  CREATE INDEX runs_sweep_group ON runs (sweep_id, group_key, status, seed, final_test_acc, best_test_acc, final_test_loss);

  -- one row per config group: what compare tables and CSVs show for it, stored once instead of per seed
  CREATE TABLE config_groups (
    group_key    TEXT PRIMARY KEY,
    model        TEXT NOT NULL,
    dataset      TEXT NOT NULL,
    lr           REAL NOT NULL,
    batch_size   INTEGER NOT NULL,
    epochs       INTEGER NOT NULL,
    config_json  TEXT NOT NULL
  ) WITHOUT ROWID;

  -- the run's configuration as key/value text, as MLflow keeps params
  CREATE TABLE params (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  ) WITHOUT ROWID;

  -- metric names are interned: 9M history rows would otherwise repeat the same few strings
  CREATE TABLE metric_keys (
    id   INTEGER PRIMARY KEY,
    key  TEXT NOT NULL UNIQUE
  );

  -- value NULL stands for NaN (SQLite has no NaN); a diverged run's loss is kept that way
  CREATE TABLE metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key_id  INTEGER NOT NULL REFERENCES metric_keys(id),
    step    INTEGER NOT NULL,
    value   REAL,
    time    INTEGER NOT NULL,
    PRIMARY KEY (run_id, key_id, step)
  ) WITHOUT ROWID;

  CREATE TABLE latest_metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key_id  INTEGER NOT NULL REFERENCES metric_keys(id),
    step    INTEGER NOT NULL,
    value   REAL,
    time    INTEGER NOT NULL,
    PRIMARY KEY (run_id, key_id)
  ) WITHOUT ROWID;

  CREATE TABLE norm_stats (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch         INTEGER NOT NULL,
    step          INTEGER NOT NULL,
    layer         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('kn','bn','gn','ln')),
    summary_json  TEXT NOT NULL,
    time          INTEGER NOT NULL
  );
  CREATE INDEX norm_stats_run_layer ON norm_stats (run_id, layer, step);

  CREATE TABLE checkpoints (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch   INTEGER NOT NULL,
    path    TEXT NOT NULL,
    reason  TEXT NOT NULL CHECK (reason IN ('periodic','cancel','final')),
    time    INTEGER NOT NULL
  );
  CREATE INDEX checkpoints_run ON checkpoints (run_id, epoch);

  CREATE TABLE run_logs (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    level    TEXT NOT NULL CHECK (level IN ('info','warn','error')),
    message  TEXT NOT NULL,
    time     INTEGER NOT NULL
  );
  CREATE INDEX run_logs_run ON run_logs (run_id, id);
  `,
  /* 2: store identity, scheduler lease, crash-proof ingest */ `
  -- the store's identity: checkpoints live under a folder named by it, so two stores in one folder (or a store
  -- deleted and started over) never resume each other's runs
  CREATE TABLE store_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO store_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))));

  -- at most one process schedules runs from this store; the others read, or wait for the lease
  CREATE TABLE scheduler_lease (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    owner         TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    host          TEXT NOT NULL,
    acquired_at   INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL
  );

  -- owner: the lease that claimed the run; checkpoint_dir: where its checkpoints and journal are, fixed at the
  -- first claim; journal_id/journal_seq: how much of that journal the store holds; auto_retries: automatic
  -- requeues after the worker was killed
  ALTER TABLE runs ADD COLUMN owner TEXT;
  ALTER TABLE runs ADD COLUMN checkpoint_dir TEXT;
  ALTER TABLE runs ADD COLUMN journal_id TEXT;
  ALTER TABLE runs ADD COLUMN journal_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN auto_retries INTEGER NOT NULL DEFAULT 0;

  -- a replayed journal must not add a second copy of a statistic or a checkpoint
  DELETE FROM norm_stats WHERE id NOT IN (SELECT MAX(id) FROM norm_stats GROUP BY run_id, layer, step);
  DROP INDEX norm_stats_run_layer;
  CREATE UNIQUE INDEX norm_stats_run_layer_step ON norm_stats (run_id, layer, step);
  DELETE FROM checkpoints WHERE id NOT IN (SELECT MAX(id) FROM checkpoints GROUP BY run_id, path);
  CREATE UNIQUE INDEX checkpoints_run_path ON checkpoints (run_id, path);
  `,
  /* 3: config-group keys leave out fields at their default */ rekeyConfigGroups,
  /* 4: the executor's handle of a run (a Slurm job id), kept after the run ends so its record says which job ran it */ `
  ALTER TABLE runs ADD COLUMN job_id TEXT;
  `,
];

export class SchemaVersionError extends Error {
  override name = 'SchemaVersionError';
}

/**
 * Brings the open database up to `migrations.length` inside one write transaction, so two processes opening the
 * same new file cannot both migrate it, and a failing step leaves the file at its old version. Taking the write
 * lock even when nothing is to do is deliberate: a store that cannot write should fail at open, not mid-sweep.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new SchemaVersionError(
        `schema version ${current} is newer than this NormLab understands (${migrations.length}); update NormLab`,
      );
    }
    for (let version = current + 1; version <= migrations.length; version++) {
      const step = migrations[version - 1];
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${version}`);
    }
  }).immediate();
  return migrations.length;
}
