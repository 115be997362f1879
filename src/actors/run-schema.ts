// The run actor's SQLite schema, created (or upgraded) idempotently in one place.
import { STATE_STATUSES } from "../engine/model";
import { CLONE_PAGES_INDEX, CLONE_PAGES_SCHEMA } from "./run-clone-pages";

const SCHEMA_VERSION = 8;

/** Whether this actor's storage holds a run's schema (i.e. somebody started a run here). */
export function runSchemaExists(sql: SqlStorage): boolean {
  return tableExists(sql, "states");
}

function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}

/** The delivery epoch of a new actor's first instance (see nextDeliveryEpoch). */
export const FIRST_DELIVERY_EPOCH = 1;

/**
 * Counts this actor's instances: each one that opens the run tags the push deliveries it sends with the
 * next number (its delivery epoch), so a later instance can tell what an earlier one sent.
 */
export function nextDeliveryEpoch(sql: SqlStorage): number {
  const { value } = sql
    .exec<{ value: string }>(
      `INSERT INTO meta (key, value) VALUES ('delivery_epoch', '${FIRST_DELIVERY_EPOCH}') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value`,
    )
    .one();
  return Number(value);
}

/**
 * Creates the schema of a new run actor, or upgrades an older one to the current version. Answers
 * "created" for a new actor: its storage then holds the schema and its first delivery epoch (1) and
 * nothing else, so the caller has nothing to read back.
 */
export function migrateRunSchema(sql: SqlStorage): "created" | "current" {
  if (tableExists(sql, "meta")) {
    const row = sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
      .toArray()[0];
    const version = row ? Number(row.value) : 0;
    if (version < SCHEMA_VERSION) upgradeRunSchema((query) => sql.exec(query), version, sql);
    return "current";
  }
  // A new actor: the same statements in one batch. One call each took about 7 % of a small run's CPU.
  const batch: string[] = [];
  upgradeRunSchema((query) => batch.push(query), 0, sql);
  batch.push(`INSERT INTO meta (key, value) VALUES ('delivery_epoch', '${FIRST_DELIVERY_EPOCH}')`);
  sql.exec(batch.join(";\n"));
  return "created";
}

/**
 * Brings the schema from `from` (0: none) to SCHEMA_VERSION, passing each statement to `run`; `sql` is
 * read only while upgrading an existing schema.
 */
function upgradeRunSchema(run: (query: string) => void, from: number, sql: SqlStorage): void {
  run("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const older = (version: number) => from > 0 && from <= version;
  if (from === 1) {
    // v2: paged fan-out reports, the never-ran discriminant, chunked values, leases on EXECUTED heads.
    run("ALTER TABLE states ADD COLUMN never_ran INTEGER NOT NULL DEFAULT 0");
    run("ALTER TABLE states ADD COLUMN reported_outputs INTEGER NOT NULL DEFAULT 0");
    run("DROP INDEX IF EXISTS states_leased");
  }
  if (older(3)) {
    // v4: the delivery a push claim was sent in (two leases: delivery, then execution), and the failed
    // unite state of a barrier that rests failed (manual retries of its branches can still rescue it).
    run("ALTER TABLE states ADD COLUMN delivery INTEGER");
    run("ALTER TABLE barriers ADD COLUMN failed_unite INTEGER");
  }
  if (older(4)) {
    // v5: the CANCELLED status (run control) widens the status CHECK, which SQLite cannot alter: the
    // table is rebuilt once, under the same name, and its indexes are created again below.
    run("ALTER TABLE states RENAME TO states_v4");
  }
  const statuses = STATE_STATUSES.map((s) => `'${s}'`).join(",");
  run(`CREATE TABLE IF NOT EXISTS states (
    seq INTEGER PRIMARY KEY,
    identifier TEXT NOT NULL,
    node_name TEXT NOT NULL,
    namespace TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN (${statuses})),
    inputs TEXT, -- NULL for a fan-out clone: its inputs are its execution head's
    outputs TEXT NOT NULL,
    error TEXT,
    data TEXT NOT NULL,
    parents TEXT NOT NULL,
    exec_seq INTEGER NOT NULL,
    fanout_index INTEGER NOT NULL,
    lineage TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    fanout_id TEXT NOT NULL,
    manual_retry_fanout_id TEXT NOT NULL,
    does_unites INTEGER NOT NULL,
    never_ran INTEGER NOT NULL DEFAULT 0,
    reported_outputs INTEGER NOT NULL DEFAULT 0,
    enqueue_after INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- Dispatch bookkeeping (not engine state): a pull state offered to its ready queue (1), or one
    -- parked until a slot of its node's max_concurrency frees (2); the lease of a QUEUED state; and for
    -- a push claim the delivery (the sending actor's epoch) it was sent in.
    offered INTEGER NOT NULL DEFAULT 0,
    lease_expires INTEGER,
    delivery INTEGER)`);
  if (older(4)) {
    const columns = `seq, identifier, node_name, namespace, status, inputs, outputs, error, data, parents, exec_seq,
      fanout_index, lineage, retry_count, fanout_id, manual_retry_fanout_id, does_unites, never_ran,
      reported_outputs, enqueue_after, created_at, updated_at, offered, lease_expires, delivery`;
    run(`INSERT INTO states (${columns}) SELECT ${columns} FROM states_v4`);
    run("DROP TABLE states_v4");
  }
  // Ready states are rows of the states table: a CREATED state not yet handed out is ready once due. A
  // state written as ready is therefore sent even across a crash, with no separate row to write or delete.
  run(
    "CREATE INDEX IF NOT EXISTS states_ready ON states (enqueue_after) WHERE status = 'CREATED' AND offered = 0",
  );
  // A QUEUED state, or an EXECUTED head whose runtime is still sending pages of its outputs, is leased.
  run(
    "CREATE INDEX IF NOT EXISTS states_leased ON states (lease_expires) WHERE status IN ('QUEUED', 'EXECUTED')",
  );
  // Run control: the states of a node that hold one of its `max_concurrency` slots (running, offered to a
  // pull runtime, or ready to be dispatched), counted per node; and the states parked (offered = 2)
  // until a slot frees, in the order they became ready.
  run(
    "CREATE INDEX IF NOT EXISTS states_held ON states (identifier) WHERE status IN ('QUEUED', 'EXECUTED') OR (status = 'CREATED' AND offered < 2)",
  );
  run(
    "CREATE INDEX IF NOT EXISTS states_parked ON states (identifier, enqueue_after, seq) WHERE status = 'CREATED' AND offered = 2",
  );
  const rowidChunks = older(5) && tableExists(sql, "chunks");
  if (rowidChunks) {
    // v6: chunks in a rowid table (below). In a WITHOUT ROWID table a chunk's text is part of the key's
    // record, and SQLite reads a whole overflowing record to compare keys: every lookup near a large
    // value read it (a split of 100,000 items spent 200 µs per branch there).
    run("ALTER TABLE chunks RENAME TO chunks_v5");
  }
  // Values too large for a row, in order: (state, column, part). A rowid table: its key index holds only
  // the key, so a lookup never reads a chunk's text.
  run(`CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER NOT NULL, col TEXT NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (seq, col, part))`);
  if (rowidChunks) {
    run("INSERT INTO chunks (seq, col, part, text) SELECT seq, col, part, text FROM chunks_v5");
    run("DROP TABLE chunks_v5");
  }
  // Only a firing unite reads a subtree: successful states of one node under a lineage prefix, in fan-out
  // order (lineage, output index, seq). v8 adds the output index: the clones of one execution share its
  // lineage, and across shards their seqs are not in output order.
  if (older(7)) run("DROP INDEX IF EXISTS states_success_subtree");
  run(
    "CREATE INDEX IF NOT EXISTS states_success_subtree ON states (identifier, lineage, fanout_index) WHERE status = 'SUCCESS'",
  );
  // v7: plain fan-out clones as pages, one row per run of consecutive clones (run-clone-pages.ts). Clones
  // an earlier version wrote stay rows; every read of a state reads both. v8: a page's last output index.
  run(CLONE_PAGES_SCHEMA);
  if (from === 7) {
    run("ALTER TABLE clone_pages ADD COLUMN last_index INTEGER NOT NULL DEFAULT 0");
    run("UPDATE clone_pages SET last_index = fanout_indexes ->> '$[#-1]'");
    run("DROP INDEX IF EXISTS clone_pages_subtree");
  }
  run(CLONE_PAGES_INDEX);
  run(`CREATE TABLE IF NOT EXISTS barriers (
    unite TEXT NOT NULL, exec_seq INTEGER NOT NULL, pending INTEGER NOT NULL, failed INTEGER NOT NULL,
    failed_sample TEXT NOT NULL, fired INTEGER NOT NULL, failed_unite INTEGER,
    PRIMARY KEY (unite, exec_seq)) WITHOUT ROWID`);
  run("CREATE TABLE IF NOT EXISTS counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID");
  run("CREATE TABLE IF NOT EXISTS store (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
  // One row per dispatch round whose send is not confirmed yet: the states it handed out, so a round
  // interrupted by a crash or a failed send is sent again (one row per round, not per state).
  run(
    "CREATE TABLE IF NOT EXISTS dispatch_rounds (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, seqs TEXT NOT NULL)",
  );
  // Branch shards (design §6). Ids are AUTOINCREMENT: an id is never reused once its row is deleted, so
  // the receiver's dedupe by id stays right. The run actor's batches of branches not yet confirmed by their shard; a
  // shard's settle deltas not yet confirmed by the run actor (sent in id order); which shard's deltas the
  // run actor has applied up to which id; which batches a shard has written; unites gathering inputs.
  run(
    "CREATE TABLE IF NOT EXISTS spawn_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, shard INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL)",
  );
  run(
    "CREATE TABLE IF NOT EXISTS settle_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL)",
  );
  run(
    "CREATE TABLE IF NOT EXISTS settled_from (shard INTEGER PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID",
  );
  run("CREATE TABLE IF NOT EXISTS adopted (id INTEGER PRIMARY KEY)");
  // v3: the run's cost counters, so they survive a restart of the actor.
  run("CREATE TABLE IF NOT EXISTS costs (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID");
  run("CREATE TABLE IF NOT EXISTS gathers (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  run(
    `INSERT INTO meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  );
}
