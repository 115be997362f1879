// The run actor's RunStore over Durable Object SQLite. Every statement binds its parameters; the
// caller wraps each engine call in `transactionSync` and then calls `flush()` inside it.

import { firstSeqOf } from "../engine/ids";
import { DISPATCH_ROUND_STATES, exceedsBytes, ROW_VALUE_BYTES } from "../engine/limits";
import type { StateStatus } from "../engine/model";
import type {
  Barrier,
  BarrierDelta,
  RunStore,
  SettleDelta,
  SpawnBatch,
  StatePatch,
  StateRow,
} from "../engine/run/types";
import { cloneHasFanoutId } from "./run-clone-pages";
import { parseSeqs, parseStatus } from "./run-parse";
import { SqlOutboxes } from "./run-sql-outboxes";

/** Barriers a store keeps in memory at most (a run's are one per execution of each unite's target). */
const KEPT_BARRIERS = 1_024;

const copyBarrier = (b: Barrier): Barrier => ({ ...b, failed_sample: [...b.failed_sample] });

/** The engine's RunStore over the run actor's SQLite (see SqlRows and SqlOutboxes for the rest). */
export class SqlRunStore extends SqlOutboxes implements RunStore {
  private seq: number;
  private readonly countDeltas = new Map<StateStatus, number>();
  private readonly remote = new Map<string, BarrierDelta>();
  private shardsUsed: boolean;
  private cancelled: boolean;
  private toleratedDelta = 0;
  private born: StateRow[][] = [];

  /**
   * `shard` is this actor's place in its run: 0 for the run actor, s for branch shard s. `empty`: the
   * actor's storage was created just now (migrateRunSchema answered "created"), so nothing is read back.
   */
  constructor(
    sql: SqlStorage,
    private readonly shard = 0,
    empty = false,
  ) {
    super(sql, empty);
    // One statement: a run actor opens a store for every run it starts (none, for storage created now).
    const [row] = empty
      ? []
      : Array.from(
          sql
            .exec(
              `SELECT (SELECT max(seq) FROM states),
                 (SELECT first_seq + n - 1 FROM clone_pages ORDER BY first_seq DESC LIMIT 1),
                 EXISTS (SELECT 1 FROM meta WHERE key = 'shards_used') OR EXISTS (SELECT 1 FROM spawn_outbox),
                 EXISTS (SELECT 1 FROM meta WHERE key = 'cancelled')`,
            )
            .raw(),
        );
    const [lastRow, lastClone, shardsUsed, cancelled] = (row ?? []) as (number | null)[];
    this.seq = Math.max(lastRow ?? firstSeqOf(shard) - 1, lastClone ?? 0);
    this.shardsUsed = shardsUsed === 1;
    this.cancelled = cancelled === 1;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  insertState(s: StateRow): void {
    this.insertRow(s, null, null);
  }

  insertClaimed(s: StateRow, leaseExpires: number, delivery: number): void {
    this.insertRow(s, leaseExpires, delivery);
  }

  /**
   * States born claimed in this transaction: the dispatcher sends them after the commit from memory, in
   * rounds of DISPATCH_ROUND_STATES. Nothing else is written for them: a send that fails is recorded then
   * as an unconfirmed round, and a crash before the send leaves deliveries of this instance's epoch that
   * the next instance sends again (two leases, dispatcher.ts).
   */
  bornClaimed(states: StateRow[]): void {
    for (let i = 0; i < states.length; i += DISPATCH_ROUND_STATES) {
      this.born.push(states.slice(i, i + DISPATCH_ROUND_STATES));
    }
    this.readyTouched = true;
  }

  /** The rounds of states born claimed that committed and are not sent yet (taken once). */
  takeBorn(): StateRow[][] {
    const born = this.born;
    this.born = [];
    return born;
  }

  private insertRow(s: StateRow, leaseExpires: number | null, delivery: number | null): void {
    // A plain fan-out clone joins its page (run-clone-pages.ts) instead of taking a row.
    if (leaseExpires === null && this.writeClone(s)) return;
    this.writeInsert([
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
      leaseExpires,
      delivery,
    ]);
    this.cost.rowsWritten += 1;
  }

  updateState(seq: number, patch: StatePatch, now: number): void {
    const sets: string[] = ["updated_at"];
    const values: SqlStorageValue[] = [now];
    const set = (column: string, value: SqlStorageValue) => {
      sets.push(column);
      values.push(value);
    };
    if (patch.status !== undefined) set("status", patch.status);
    if (patch.inputs !== undefined) set("inputs", this.column(seq, "inputs", patch.inputs, true));
    if (patch.never_ran !== undefined) set("never_ran", patch.never_ran ? 1 : 0);
    if (patch.outputs !== undefined) set("outputs", this.column(seq, "outputs", patch.outputs, true));
    if (patch.error !== undefined) set("error", patch.error);
    if (patch.data !== undefined) set("data", this.column(seq, "data", patch.data, true));
    if (patch.reported_outputs !== undefined) set("reported_outputs", patch.reported_outputs);
    if (patch.enqueue_after !== undefined) set("enqueue_after", patch.enqueue_after);
    if (patch.fanout_index !== undefined) set("fanout_index", patch.fanout_index);
    if (patch.lease_expires !== undefined) set("lease_expires", patch.lease_expires);
    if (patch.delivery !== undefined) set("delivery", patch.delivery);
    // Back to CREATED (a requeue): ready to be handed out again once due.
    if (patch.status === "CREATED") {
      set("offered", 0);
      set("lease_expires", null);
    }
    this.writeUpdate(seq, sets, values);
    this.cost.rowsWritten += 1;
  }

  getBarrier(unite: string, execSeq: number): Barrier | undefined {
    const key = `${unite}\u0000${execSeq}`;
    const known = this.barriers.get(key);
    if (known) return copyBarrier(known);
    const r = this.sql
      .exec<{
        pending: number;
        failed: number;
        failed_sample: string;
        fired: number;
        failed_unite: number | null;
      }>(
        "SELECT pending, failed, failed_sample, fired, failed_unite FROM barriers WHERE unite = ? AND exec_seq = ?",
        unite,
        execSeq,
      )
      .toArray()[0];
    if (!r) return undefined;
    const barrier: Barrier = {
      unite,
      exec_seq: execSeq,
      pending: r.pending,
      failed: r.failed,
      failed_sample: parseSeqs(r.failed_sample, `barrier ${unite}/${execSeq}`),
      fired: r.fired === 1,
      ...(r.failed_unite === null ? {} : { failed_unite: r.failed_unite }),
    };
    this.keepBarrier(barrier);
    return copyBarrier(barrier);
  }

  /**
   * Barriers as last read or written, so that a report's transaction need not read its barrier back
   * (only this store writes them). Copies go in and out: the engine changes what it is given. Forgotten
   * when a transaction rolls back.
   */
  private readonly barriers = new Map<string, Barrier>();

  private keepBarrier(b: Barrier): void {
    if (this.barriers.size >= KEPT_BARRIERS) this.barriers.clear();
    this.barriers.set(`${b.unite}\u0000${b.exec_seq}`, copyBarrier(b));
  }

  putBarrier(b: Barrier): void {
    this.keepBarrier(b);
    this.sql.exec(
      `INSERT INTO barriers (unite, exec_seq, pending, failed, failed_sample, fired, failed_unite)
       VALUES (?,?,?,?,?,?,?)
       ON CONFLICT (unite, exec_seq) DO UPDATE SET pending = excluded.pending, failed = excluded.failed,
         failed_sample = excluded.failed_sample, fired = excluded.fired, failed_unite = excluded.failed_unite`,
      b.unite,
      b.exec_seq,
      b.pending,
      b.failed,
      JSON.stringify(b.failed_sample),
      b.fired ? 1 : 0,
      b.failed_unite ?? null,
    );
    this.cost.rowsWritten += 1;
  }

  storeValue(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM store WHERE key = ?", key).toArray()[0]?.value;
  }

  subtreeTexts(identifier: string, prefix: string, field: string): string[] {
    // A state without the field (of an execution with no outputs) adds no value.
    return this.subtreeRows(identifier, prefix, field, null, null).values.filter((v) => v !== null);
  }

  clonesOf(execSeq: number): number[] {
    // Operator-driven (manual retry): a scan is acceptable; no index on the hot path for it. Only clones
    // kept as rows: manual retry supersedes the clones of a failed execution (NEXT_CREATED_ERROR, always
    // rows); a clone in a page is SUCCESS, of an execution that cannot be retried as a whole.
    return this.sql
      .exec<{ seq: number }>("SELECT seq FROM states WHERE exec_seq = ? AND seq != ?", execSeq, execSeq)
      .toArray()
      .map((r) => r.seq);
  }

  hasAttempt(identifier: string, fanoutId: string, retryCount: number): boolean {
    // A rare, operator-driven call: a scan is acceptable here (no index on the hot path for it).
    if (retryCount === 0 && cloneHasFanoutId(this.sql, identifier, fanoutId)) return true;
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

  ready(_seq: number, _due: number): void {
    // The CREATED row is the ready state itself; the actor only needs to know to (re)arm its alarm.
    this.readyTouched = true;
  }

  forward(shard: number, batch: SpawnBatch, text?: string): void {
    if (!this.shardsUsed) {
      this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('shards_used', '1')");
      this.shardsUsed = true;
    }
    const body = text ?? JSON.stringify(batch);
    if (!exceedsBytes(body, ROW_VALUE_BYTES)) {
      const { id } = this.sql
        .exec<{ id: number }>(
          "INSERT INTO spawn_outbox (shard, at, body) VALUES (?, ?, ?) RETURNING id",
          shard,
          Date.now(),
          body,
        )
        .one();
      this.keepUnsent(id, body);
    } else {
      // One branch heavier than a row (a large output): the batch goes to chunks, keyed by minus its id.
      const id = this.sql
        .exec<{ id: number }>(
          "INSERT INTO spawn_outbox (shard, at, body) VALUES (?, ?, '') RETURNING id",
          shard,
          Date.now(),
        )
        .one().id;
      this.sql.exec(
        "UPDATE spawn_outbox SET body = ? WHERE id = ?",
        this.column(-id, "spawn", batch, false),
        id,
      );
      this.keepUnsent(id, body);
    }
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

  usesShards(): boolean {
    return this.shardsUsed;
  }

  isCancelled(): boolean {
    return this.cancelled;
  }

  cancelPending(error: string, now: number): Partial<Record<StateStatus, number>> {
    const moved: Partial<Record<StateStatus, number>> = {};
    for (const r of this.sql.exec<{ status: string; n: number }>(
      "SELECT status, count(*) AS n FROM states WHERE status IN ('CREATED', 'QUEUED', 'EXECUTED') GROUP BY status",
    )) {
      moved[parseStatus(r.status, "cancelled states")] = r.n;
    }
    this.sql.exec(
      `UPDATE states SET status = 'CANCELLED', error = ?, updated_at = ?, offered = 0, lease_expires = NULL
       WHERE status IN ('CREATED', 'QUEUED', 'EXECUTED')`,
      error,
      now,
    );
    this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('cancelled', ?)", String(now));
    this.cancelled = true;
    this.cost.rowsWritten += Object.values(moved).reduce((a, n) => a + (n ?? 0), 0);
    return moved;
  }

  tolerate(n: number): void {
    this.toleratedDelta += n;
  }

  /** Errored states the run's unites tolerated (run actor: with its shards' added). */
  tolerated(): number {
    const row = this.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'tolerated'")
      .toArray()[0];
    return row ? Number(row.value) : 0;
  }

  /** Writes the counters changed by this transaction. MUST be called inside the same transaction. */
  flush(): void {
    this.drainWrites();
    if (this.shard !== 0) {
      // A shard's counts and its changes to the run actor's barriers go to the run actor, in order.
      const counts = Object.fromEntries([...this.countDeltas].filter(([, n]) => n !== 0));
      const barriers = [...this.remote.values()];
      const tolerated = this.toleratedDelta;
      this.countDeltas.clear();
      this.remote.clear();
      this.toleratedDelta = 0;
      if (Object.keys(counts).length === 0 && barriers.length === 0 && tolerated === 0) return;
      this.sql.exec(
        "INSERT INTO settle_outbox (at, body) VALUES (?, ?)",
        Date.now(),
        JSON.stringify({ counts, barriers, ...(tolerated > 0 ? { tolerated } : {}) } satisfies SettleDelta),
      );
      this.cost.rowsWritten += 1;
      this.linkTouched = true;
      return;
    }
    // One statement for every status this transaction moved (a report moves two: from and to).
    const changed = [...this.countDeltas].filter(([, delta]) => delta !== 0);
    this.countDeltas.clear();
    if (changed.length > 0) {
      this.sql.exec(
        `INSERT INTO counts (status, n) SELECT key, value FROM json_each(?) WHERE true
         ON CONFLICT (status) DO UPDATE SET n = n + excluded.n`,
        JSON.stringify(Object.fromEntries(changed)),
      );
      this.cost.rowsWritten += changed.length;
    }
    if (this.toleratedDelta !== 0) {
      this.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('tolerated', ?) ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER) AS TEXT)",
        String(this.toleratedDelta),
      );
      this.toleratedDelta = 0;
    }
  }

  /** Forgets unflushed counter changes after a rolled-back transaction. */
  discard(): void {
    this.barriers.clear();
    this.born = [];
    this.unsentSpawns.clear();
    this.dropWrites();
    this.countDeltas.clear();
    this.toleratedDelta = 0;
    this.cancelled = this.sql.exec("SELECT 1 FROM meta WHERE key = 'cancelled'").toArray().length > 0;
    this.remote.clear();
    this.loadChunked();
    this.readyTouched = false;
    this.linkTouched = false;
    this.gatherTouched = false;
  }

  counts(): Partial<Record<StateStatus, number>> {
    const out: Partial<Record<StateStatus, number>> = {};
    for (const r of this.sql.exec<{ status: string; n: number }>("SELECT status, n FROM counts")) {
      out[parseStatus(r.status, "counts")] = r.n;
    }
    return out;
  }
}
