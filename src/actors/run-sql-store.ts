// The run actor's RunStore over Durable Object SQLite. Every statement binds its parameters; the
// caller wraps each engine call in `transactionSync` and then calls `flush()` inside it.

import { firstSeqOf } from "../engine/ids";
import { exceedsBytes, ROW_VALUE_BYTES, VALUE_CHUNK_CHARS } from "../engine/limits";
import { STATE_STATUSES, type StateStatus } from "../engine/model";
import type {
  Barrier,
  BarrierDelta,
  ParentLink,
  RunStore,
  SettleDelta,
  SpawnBatch,
  StatePatch,
  StateRow,
} from "../engine/run/types";

const SCHEMA_VERSION = 2;
/** What a JSON column holds when its value is stored in chunks (stored JSON always starts with `{`). */
const CHUNKED = "@chunks";
type JsonColumn = "inputs" | "outputs" | "data";

/** Whether this actor's storage holds a run's schema (i.e. somebody started a run here). */
export function runSchemaExists(sql: SqlStorage): boolean {
  return (
    sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'states'").toArray().length > 0
  );
}

export function migrateRunSchema(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const version = sql
    .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
    .toArray()[0];
  if (version && Number(version.value) >= SCHEMA_VERSION) return;
  if (version && Number(version.value) === 1) {
    // v2: paged fan-out reports, the never-ran discriminant, chunked values, leases on EXECUTED heads.
    sql.exec("ALTER TABLE states ADD COLUMN never_ran INTEGER NOT NULL DEFAULT 0");
    sql.exec("ALTER TABLE states ADD COLUMN reported_outputs INTEGER NOT NULL DEFAULT 0");
    sql.exec("DROP INDEX IF EXISTS states_leased");
  }
  const statuses = STATE_STATUSES.map((s) => `'${s}'`).join(",");
  sql.exec(`CREATE TABLE IF NOT EXISTS states (
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
    -- Dispatch bookkeeping (not engine state): a pull state offered to its ready queue, and the lease
    -- of a QUEUED state.
    offered INTEGER NOT NULL DEFAULT 0,
    lease_expires INTEGER)`);
  // The states table is the dispatch outbox: a CREATED state not yet handed out is ready once due. A
  // state written as ready is therefore sent even across a crash, with no outbox row to write or delete.
  sql.exec(
    "CREATE INDEX IF NOT EXISTS states_ready ON states (enqueue_after) WHERE status = 'CREATED' AND offered = 0",
  );
  // A QUEUED state, or an EXECUTED head whose runtime is still sending pages of its outputs, is leased.
  sql.exec(
    "CREATE INDEX IF NOT EXISTS states_leased ON states (lease_expires) WHERE status IN ('QUEUED', 'EXECUTED')",
  );
  // Values too large for a row, in order: (state, column, part).
  sql.exec(`CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER NOT NULL, col TEXT NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (seq, col, part)) WITHOUT ROWID`);
  // Only a firing unite reads a subtree: successful states of one node under a lineage prefix.
  sql.exec(
    "CREATE INDEX IF NOT EXISTS states_success_subtree ON states (identifier, lineage) WHERE status = 'SUCCESS'",
  );
  sql.exec(`CREATE TABLE IF NOT EXISTS barriers (
    unite TEXT NOT NULL, exec_seq INTEGER NOT NULL, pending INTEGER NOT NULL, failed INTEGER NOT NULL,
    failed_sample TEXT NOT NULL, fired INTEGER NOT NULL, PRIMARY KEY (unite, exec_seq)) WITHOUT ROWID`);
  sql.exec("CREATE TABLE IF NOT EXISTS counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID");
  sql.exec("CREATE TABLE IF NOT EXISTS store (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
  // One row per dispatch round whose send is not confirmed yet: the states it handed out, so a round
  // interrupted by a crash or a failed send is sent again (one row per round, not per state).
  sql.exec(
    "CREATE TABLE IF NOT EXISTS dispatch_rounds (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, seqs TEXT NOT NULL)",
  );
  // Branch shards (design §6). Ids are AUTOINCREMENT: an id is never reused once its row is deleted, so
  // the receiver's dedupe by id stays right. The run actor's batches of branches not yet confirmed by their shard; a
  // shard's settle deltas not yet confirmed by the run actor (sent in id order); which shard's deltas the
  // run actor has applied up to which id; which batches a shard has written; unites gathering inputs.
  sql.exec(
    "CREATE TABLE IF NOT EXISTS spawn_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, shard INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL)",
  );
  sql.exec(
    "CREATE TABLE IF NOT EXISTS settle_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL)",
  );
  sql.exec(
    "CREATE TABLE IF NOT EXISTS settled_from (shard INTEGER PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID",
  );
  sql.exec("CREATE TABLE IF NOT EXISTS adopted (id INTEGER PRIMARY KEY)");
  sql.exec("CREATE TABLE IF NOT EXISTS gathers (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    String(SCHEMA_VERSION),
  );
}

export interface StateRecord extends Record<string, SqlStorageValue> {
  seq: number;
  identifier: string;
  node_name: string;
  namespace: string;
  status: string;
  inputs: string | null;
  outputs: string;
  error: string | null;
  data: string;
  parents: string;
  exec_seq: number;
  fanout_index: number;
  lineage: string;
  retry_count: number;
  fanout_id: string;
  manual_retry_fanout_id: string;
  does_unites: number;
  never_ran: number;
  reported_outputs: number;
  enqueue_after: number;
  created_at: number;
  updated_at: number;
  offered: number;
  lease_expires: number | null;
}

/** Parses a JSON column; `chunked` reads a value that was too large for the row. */
export function toStateRow(r: StateRecord, chunked: (col: JsonColumn) => string): StateRow {
  const json = <T>(col: JsonColumn, text: string): T =>
    JSON.parse(text === CHUNKED ? chunked(col) : text) as T;
  return {
    seq: r.seq,
    identifier: r.identifier,
    node_name: r.node_name,
    namespace: r.namespace,
    status: r.status as StateStatus,
    // A clone's inputs live on its head (see getState); views that list states never show inputs.
    inputs: r.inputs === null ? {} : json("inputs", r.inputs),
    outputs: json("outputs", r.outputs),
    error: r.error,
    data: json("data", r.data),
    parents: JSON.parse(r.parents) as ParentLink[],
    exec_seq: r.exec_seq,
    fanout_index: r.fanout_index,
    lineage: r.lineage,
    retry_count: r.retry_count,
    fanout_id: r.fanout_id,
    manual_retry_fanout_id: r.manual_retry_fanout_id,
    does_unites: r.does_unites === 1,
    never_ran: r.never_ran === 1,
    reported_outputs: r.reported_outputs,
    enqueue_after: r.enqueue_after,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** Cost counters, counted where the work happens (reported by the benchmark). */
export interface RunCostCounters {
  rowsWritten: number;
}

export class SqlRunStore implements RunStore {
  private seq: number;
  private readonly countDeltas = new Map<StateStatus, number>();
  private readyTouched = false;
  readonly cost: RunCostCounters = { rowsWritten: 0 };

  private readonly remote = new Map<string, BarrierDelta>();
  private shardsUsed: boolean;
  /** Set when this transaction wrote to an outbox of the shard protocol (the actor then flushes it). */
  private linkTouched = false;
  private gatherTouched = false;

  /** `shard` is this actor's place in its run: 0 for the run actor, s for branch shard s. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly shard = 0,
  ) {
    this.seq =
      sql.exec<{ m: number | null }>("SELECT max(seq) AS m FROM states").one().m ?? firstSeqOf(shard) - 1;
    this.shardsUsed =
      sql.exec("SELECT 1 FROM meta WHERE key = 'shards_used'").toArray().length > 0 ||
      sql.exec("SELECT 1 FROM spawn_outbox LIMIT 1").toArray().length > 0;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  getState(seq: number): StateRow | undefined {
    const r = this.sql.exec<StateRecord>("SELECT * FROM states WHERE seq = ?", seq).toArray()[0];
    if (!r) return undefined;
    const state = this.toRow(r);
    if (r.inputs === null) state.inputs = this.headInputs(state.exec_seq);
    return state;
  }

  /** A row read with `SELECT *`, its large values read from their chunks. */
  toRow(r: StateRecord): StateRow {
    return toStateRow(r, (col) => this.readChunks(r.seq, col));
  }

  outputsOf(seq: number): Record<string, unknown> | undefined {
    const r = this.sql
      .exec<{ outputs: string }>("SELECT outputs FROM states WHERE seq = ?", seq)
      .toArray()[0];
    return r ? this.parse(seq, "outputs", r.outputs) : undefined;
  }

  private headInputs(execSeq: number): Record<string, string> {
    const head = this.sql
      .exec<{ inputs: string | null }>("SELECT inputs FROM states WHERE seq = ?", execSeq)
      .toArray()[0];
    return head?.inputs ? this.parse(execSeq, "inputs", head.inputs) : {};
  }

  private parse<T>(seq: number, col: JsonColumn, text: string): T {
    return JSON.parse(text === CHUNKED ? this.readChunks(seq, col) : text) as T;
  }

  private readChunks(seq: number, col: JsonColumn): string {
    let text = "";
    for (const r of this.sql.exec<{ text: string }>(
      "SELECT text FROM chunks WHERE seq = ? AND col = ? ORDER BY part",
      seq,
      col,
    )) {
      text += r.text;
    }
    return text;
  }

  /**
   * The text to put in a JSON column: the JSON itself, or the CHUNKED marker once its chunks are written
   * (a row holds at most 2 MB). Replaces any earlier chunks of that column. MUST run inside the caller's
   * transaction, with the row write.
   */
  private column(seq: number, col: JsonColumn, value: unknown, replacing: boolean): string {
    const json = JSON.stringify(value);
    if (replacing) this.sql.exec("DELETE FROM chunks WHERE seq = ? AND col = ?", seq, col);
    if (!exceedsBytes(json, ROW_VALUE_BYTES)) return json;
    let part = 0;
    for (let at = 0; at < json.length; part++) {
      let to = Math.min(json.length, at + VALUE_CHUNK_CHARS);
      // Never split a surrogate pair: each chunk must be valid text on its own.
      const code = json.charCodeAt(to - 1);
      if (to < json.length && code >= 0xd800 && code <= 0xdbff) to -= 1;
      this.sql.exec(
        "INSERT INTO chunks (seq, col, part, text) VALUES (?, ?, ?, ?)",
        seq,
        col,
        part,
        json.slice(at, to),
      );
      this.cost.rowsWritten += 1;
      at = to;
    }
    return CHUNKED;
  }

  insertState(s: StateRow): void {
    this.sql.exec(
      `INSERT INTO states (seq, identifier, node_name, namespace, status, inputs, outputs, error, data, parents,
        exec_seq, fanout_index, lineage, retry_count, fanout_id, manual_retry_fanout_id, does_unites,
        never_ran, reported_outputs, enqueue_after, created_at, updated_at)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      s.seq,
      s.identifier,
      s.node_name,
      s.namespace,
      s.status,
      // A fan-out clone's inputs are its head's by definition: storing NULL instead of a copy keeps a split
      // of n items from writing n copies of its whole input (O(n²) bytes).
      s.exec_seq === s.seq ? this.column(s.seq, "inputs", s.inputs, false) : null,
      this.column(s.seq, "outputs", s.outputs, false),
      s.error,
      this.column(s.seq, "data", s.data, false),
      JSON.stringify(s.parents),
      s.exec_seq,
      s.fanout_index,
      s.lineage,
      s.retry_count,
      s.fanout_id,
      s.manual_retry_fanout_id,
      s.does_unites ? 1 : 0,
      s.never_ran ? 1 : 0,
      s.reported_outputs,
      s.enqueue_after,
      s.created_at,
      s.updated_at,
    );
    this.cost.rowsWritten += 1;
  }

  updateState(seq: number, patch: StatePatch, now: number): void {
    const sets: string[] = ["updated_at = ?"];
    const values: SqlStorageValue[] = [now];
    if (patch.status !== undefined) sets.push("status = ?") && values.push(patch.status);
    if (patch.inputs !== undefined)
      sets.push("inputs = ?") && values.push(this.column(seq, "inputs", patch.inputs, true));
    if (patch.never_ran !== undefined) sets.push("never_ran = ?") && values.push(patch.never_ran ? 1 : 0);
    if (patch.outputs !== undefined)
      sets.push("outputs = ?") && values.push(this.column(seq, "outputs", patch.outputs, true));
    if (patch.error !== undefined) sets.push("error = ?") && values.push(patch.error);
    if (patch.data !== undefined)
      sets.push("data = ?") && values.push(this.column(seq, "data", patch.data, true));
    if (patch.reported_outputs !== undefined)
      sets.push("reported_outputs = ?") && values.push(patch.reported_outputs);
    if (patch.enqueue_after !== undefined) sets.push("enqueue_after = ?") && values.push(patch.enqueue_after);
    if (patch.fanout_index !== undefined) sets.push("fanout_index = ?") && values.push(patch.fanout_index);
    if (patch.lease_expires !== undefined) sets.push("lease_expires = ?") && values.push(patch.lease_expires);
    // Back to CREATED (a requeue): ready to be handed out again once due.
    if (patch.status === "CREATED") sets.push("offered = 0, lease_expires = NULL");
    this.sql.exec(`UPDATE states SET ${sets.join(", ")} WHERE seq = ?`, ...values, seq);
    this.cost.rowsWritten += 1;
  }

  getBarrier(unite: string, execSeq: number): Barrier | undefined {
    const r = this.sql
      .exec<{ pending: number; failed: number; failed_sample: string; fired: number }>(
        "SELECT pending, failed, failed_sample, fired FROM barriers WHERE unite = ? AND exec_seq = ?",
        unite,
        execSeq,
      )
      .toArray()[0];
    if (!r) return undefined;
    return {
      unite,
      exec_seq: execSeq,
      pending: r.pending,
      failed: r.failed,
      failed_sample: JSON.parse(r.failed_sample),
      fired: r.fired === 1,
    };
  }

  putBarrier(b: Barrier): void {
    this.sql.exec(
      `INSERT INTO barriers (unite, exec_seq, pending, failed, failed_sample, fired) VALUES (?,?,?,?,?,?)
       ON CONFLICT (unite, exec_seq) DO UPDATE SET pending = excluded.pending, failed = excluded.failed,
         failed_sample = excluded.failed_sample, fired = excluded.fired`,
      b.unite,
      b.exec_seq,
      b.pending,
      b.failed,
      JSON.stringify(b.failed_sample),
      b.fired ? 1 : 0,
    );
    this.cost.rowsWritten += 1;
  }

  storeValue(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM store WHERE key = ?", key).toArray()[0]?.value;
  }

  *subtreeValues(identifier: string, prefix: string, field: string): Iterable<unknown> {
    // Lineage keys are hex, so every key under the prefix sorts below prefix + "g".
    const cursor = this.sql.exec<{ seq: number; outputs: string }>(
      `SELECT seq, outputs FROM states WHERE identifier = ? AND status = 'SUCCESS' AND lineage >= ? AND lineage < ?
       ORDER BY lineage, seq`,
      identifier,
      prefix,
      `${prefix}g`,
    );
    for (const row of cursor) {
      const outputs = this.parse<Record<string, unknown>>(row.seq, "outputs", row.outputs);
      // A state without the field (of an execution with no outputs) adds no value.
      if (field in outputs) yield outputs[field];
    }
  }

  clonesOf(execSeq: number): number[] {
    // Operator-driven (manual retry): a scan is acceptable; no index on the hot path for it.
    return this.sql
      .exec<{ seq: number }>("SELECT seq FROM states WHERE exec_seq = ? AND seq != ?", execSeq, execSeq)
      .toArray()
      .map((r) => r.seq);
  }

  hasAttempt(identifier: string, fanoutId: string, retryCount: number): boolean {
    // A rare, operator-driven call: a scan is acceptable here (no index on the hot path for it).
    return (
      this.sql
        .exec(
          "SELECT 1 FROM states WHERE identifier = ? AND fanout_id = ? AND retry_count = ? LIMIT 1",
          identifier,
          fanoutId,
          retryCount,
        )
        .toArray().length > 0
    );
  }

  count(status: StateStatus, delta: number): void {
    this.countDeltas.set(status, (this.countDeltas.get(status) ?? 0) + delta);
  }

  /** True once since the last call if a state became ready (the actor then ensures its alarm). */
  takeReadyTouched(): boolean {
    const touched = this.readyTouched;
    this.readyTouched = false;
    return touched;
  }

  ready(_seq: number, _due: number): void {
    // The CREATED row is its own outbox entry; the actor only needs to know to (re)arm its alarm.
    this.readyTouched = true;
  }

  forward(shard: number, batch: SpawnBatch): void {
    if (!this.shardsUsed) {
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('shards_used', '1')");
      this.shardsUsed = true;
    }
    this.sql.exec(
      "INSERT INTO spawn_outbox (shard, at, body) VALUES (?, ?, ?)",
      shard,
      Date.now(),
      JSON.stringify(batch),
    );
    this.cost.rowsWritten += 1;
    this.linkTouched = true;
  }

  remoteBarrier(delta: BarrierDelta): void {
    const key = `${delta.unite}\u0000${delta.exec_seq}`;
    const sum = this.remote.get(key);
    if (!sum) {
      this.remote.set(key, {
        ...delta,
        failed_add: [...delta.failed_add],
        failed_remove: [...delta.failed_remove],
      });
      return;
    }
    sum.pending += delta.pending;
    sum.failed += delta.failed;
    sum.failed_add.push(...delta.failed_add);
    sum.failed_remove.push(...delta.failed_remove);
  }

  gather(seq: number): void {
    this.sql.exec("INSERT OR IGNORE INTO gathers (seq, at) VALUES (?, ?)", seq, Date.now());
    this.cost.rowsWritten += 1;
    this.gatherTouched = true;
  }

  /** True once since the last call if a transaction queued a gather (the actor then runs its alarm). */
  takeGatherTouched(): boolean {
    const touched = this.gatherTouched;
    this.gatherTouched = false;
    return touched;
  }

  usesShards(): boolean {
    return this.shardsUsed;
  }

  /** True once since the last call if a transaction wrote to the shard protocol's outboxes. */
  takeLinkTouched(): boolean {
    const touched = this.linkTouched;
    this.linkTouched = false;
    return touched;
  }

  // ---- the shard protocol's outboxes (the actors', not the engine's) --------------------------------

  /** Batches of branches not yet confirmed by their shard, oldest first. */
  pendingSpawns(limit: number): { id: number; shard: number; batch: SpawnBatch }[] {
    return this.sql
      .exec<{ id: number; shard: number; body: string }>(
        "SELECT id, shard, body FROM spawn_outbox ORDER BY id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, shard: r.shard, batch: JSON.parse(r.body) as SpawnBatch }));
  }

  spawnConfirmed(id: number): void {
    this.sql.exec("DELETE FROM spawn_outbox WHERE id = ?", id);
    this.cost.rowsWritten += 1;
  }

  /** Whether batch `id` of the run actor was written here already; records it if not. */
  adoptOnce(id: number): boolean {
    if (this.sql.exec("SELECT 1 FROM adopted WHERE id = ?", id).toArray().length > 0) return false;
    this.sql.exec("INSERT INTO adopted (id) VALUES (?)", id);
    this.cost.rowsWritten += 1;
    return true;
  }

  /** Settle deltas not yet confirmed by the run actor, in id order. */
  pendingSettles(limit: number): { id: number; delta: SettleDelta }[] {
    return this.sql
      .exec<{ id: number; body: string }>("SELECT id, body FROM settle_outbox ORDER BY id LIMIT ?", limit)
      .toArray()
      .map((r) => ({ id: r.id, delta: JSON.parse(r.body) as SettleDelta }));
  }

  settlesConfirmed(lastId: number): void {
    this.sql.exec("DELETE FROM settle_outbox WHERE id <= ?", lastId);
    this.cost.rowsWritten += 1;
  }

  /** The last settle id applied from shard `from` (0: none). */
  settledFrom(from: number): number {
    return (
      this.sql
        .exec<{ last_id: number }>("SELECT last_id FROM settled_from WHERE shard = ?", from)
        .toArray()[0]?.last_id ?? 0
    );
  }

  setSettledFrom(from: number, lastId: number): void {
    this.sql.exec(
      "INSERT INTO settled_from (shard, last_id) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET last_id = excluded.last_id",
      from,
      lastId,
    );
    this.cost.rowsWritten += 1;
  }

  pendingGathers(): number[] {
    return this.sql
      .exec<{ seq: number }>("SELECT seq FROM gathers ORDER BY seq")
      .toArray()
      .map((r) => r.seq);
  }

  gatherDone(seq: number): void {
    this.sql.exec("DELETE FROM gathers WHERE seq = ?", seq);
    this.cost.rowsWritten += 1;
  }

  /** One page of `subtreeValues`, after the (lineage, seq) position `after`, for a unite's gather. */
  subtreePage(
    identifier: string,
    prefix: string,
    field: string,
    after: { lineage: string; seq: number } | null,
    limit: number,
  ): { lineage: string; seq: number; has: boolean; value: unknown }[] {
    const from = after ?? { lineage: prefix, seq: -1 };
    return this.sql
      .exec<{ seq: number; lineage: string; outputs: string }>(
        `SELECT seq, lineage, outputs FROM states WHERE identifier = ? AND status = 'SUCCESS'
           AND (lineage > ? OR (lineage = ? AND seq > ?)) AND lineage < ?
         ORDER BY lineage, seq LIMIT ?`,
        identifier,
        from.lineage,
        from.lineage,
        from.seq,
        `${prefix}g`,
        limit,
      )
      .toArray()
      .map((r) => {
        const outputs = this.parse<Record<string, unknown>>(r.seq, "outputs", r.outputs);
        // `has` false: the state has no such output (an execution with no outputs); it adds no value.
        return { lineage: r.lineage, seq: r.seq, has: field in outputs, value: outputs[field] };
      });
  }

  // ---- dispatch bookkeeping (the run actor's, not the engine's) ------------------------------------

  /** Due CREATED states not yet handed out, oldest due first, through the `states_ready` index. */
  readyStates(now: number, limit: number): StateRow[] {
    return this.sql
      .exec<StateRecord>(
        "SELECT * FROM states WHERE status = 'CREATED' AND offered = 0 AND enqueue_after <= ? ORDER BY enqueue_after LIMIT ?",
        now,
        limit,
      )
      .toArray()
      .map((r) => this.toRow(r));
  }

  /**
   * Marks pull states as offered to their ready queue (they stay CREATED until a runtime claims them), or
   * as to be offered again.
   */
  markOffered(seqs: readonly number[], offered: boolean): void {
    // Ready again: the actor must make sure its alarm will dispatch them.
    if (!offered && seqs.length > 0) this.readyTouched = true;
    for (const seq of seqs) {
      this.sql.exec(
        "UPDATE states SET offered = ? WHERE seq = ? AND status = 'CREATED'",
        offered ? 1 : 0,
        seq,
      );
      this.cost.rowsWritten += 1;
    }
  }

  /** Leased states (QUEUED, or EXECUTED while pages of outputs arrive) whose lease expired by `now`. */
  expiredLeases(now: number, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>(
        "SELECT seq FROM states WHERE status IN ('QUEUED', 'EXECUTED') AND lease_expires <= ? ORDER BY lease_expires LIMIT ?",
        now,
        limit,
      )
      .toArray()
      .map((r) => r.seq);
  }

  openRound(seqs: readonly number[], now: number): number {
    const id = this.sql
      .exec<{ id: number }>(
        "INSERT INTO dispatch_rounds (at, seqs) VALUES (?, ?) RETURNING id",
        now,
        JSON.stringify(seqs),
      )
      .one().id;
    this.cost.rowsWritten += 1;
    return id;
  }

  closeRound(id: number): void {
    this.sql.exec("DELETE FROM dispatch_rounds WHERE id = ?", id);
    this.cost.rowsWritten += 1;
  }

  /** Rounds opened at or before `before` and never confirmed, oldest first. */
  unconfirmedRounds(before: number, limit: number): { id: number; seqs: number[] }[] {
    return this.sql
      .exec<{ id: number; seqs: string }>(
        "SELECT id, seqs FROM dispatch_rounds WHERE at <= ? ORDER BY id LIMIT ?",
        before,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, seqs: JSON.parse(r.seqs) as number[] }));
  }

  /** The earliest moment something needs the alarm: a due state, an expiring lease, an unconfirmed round. */
  nextWake(resendAfterMs: number): number | null {
    // Separate queries: a Durable Object's SQLite allows only a few terms in one compound SELECT.
    const times = [
      "SELECT min(enqueue_after) AS t FROM states WHERE status = 'CREATED' AND offered = 0",
      "SELECT min(lease_expires) AS t FROM states WHERE status IN ('QUEUED', 'EXECUTED')",
      "SELECT min(at) + ? AS t FROM dispatch_rounds",
      "SELECT min(at) + ? AS t FROM spawn_outbox",
      "SELECT min(at) + ? AS t FROM settle_outbox",
      "SELECT min(at) + ? AS t FROM gathers",
    ].map((query, i) =>
      i < 2
        ? this.sql.exec<{ t: number | null }>(query).one().t
        : this.sql.exec<{ t: number | null }>(query, resendAfterMs).one().t,
    );
    const due = times.filter((t): t is number => t !== null);
    return due.length > 0 ? Math.min(...due) : null;
  }

  /** Writes the counters changed by this transaction. MUST be called inside the same transaction. */
  flush(): void {
    if (this.shard !== 0) {
      // A shard's counts and its changes to the run actor's barriers go to the run actor, in order.
      const counts = Object.fromEntries([...this.countDeltas].filter(([, n]) => n !== 0));
      const barriers = [...this.remote.values()];
      this.countDeltas.clear();
      this.remote.clear();
      if (Object.keys(counts).length === 0 && barriers.length === 0) return;
      this.sql.exec(
        "INSERT INTO settle_outbox (at, body) VALUES (?, ?)",
        Date.now(),
        JSON.stringify({ counts, barriers } satisfies SettleDelta),
      );
      this.cost.rowsWritten += 1;
      this.linkTouched = true;
      return;
    }
    for (const [status, delta] of this.countDeltas) {
      if (delta === 0) continue;
      this.sql.exec(
        "INSERT INTO counts (status, n) VALUES (?, ?) ON CONFLICT (status) DO UPDATE SET n = n + excluded.n",
        status,
        delta,
      );
      this.cost.rowsWritten += 1;
    }
    this.countDeltas.clear();
  }

  /** Forgets unflushed counter changes after a rolled-back transaction. */
  discard(): void {
    this.countDeltas.clear();
    this.remote.clear();
    this.readyTouched = false;
    this.linkTouched = false;
    this.gatherTouched = false;
  }

  counts(): Partial<Record<StateStatus, number>> {
    const out: Partial<Record<StateStatus, number>> = {};
    for (const r of this.sql.exec<{ status: string; n: number }>("SELECT status, n FROM counts")) {
      out[r.status as StateStatus] = r.n;
    }
    return out;
  }
}
