// The run actor's storage beside the engine's port: dispatch bookkeeping (ready states, rounds, leases)
// and the branch-shard protocol's outboxes (spawn batches, settle deltas, gathers).
import type { WaitingNode } from "../contracts";
import type { SubtreePage, SubtreePosition } from "../engine/run/gather";
import type { SettleDelta, StateRow } from "../engine/run/types";
import { isoNaive } from "../engine/time";
import { parseSeqs, parseSettleDelta, parseSpawnBatch } from "./run-parse";
import { CHUNKED, SqlRows, selectStates, stateRecords } from "./run-rows";

/**
 * What the run actor does besides the engine's port: its dispatch bookkeeping (ready states, rounds,
 * leases) and the shard protocol's outboxes (spawn batches, settle deltas, gathers). The flags tell the
 * actor, after a commit, what to send or which alarm to arm.
 */
/** Spawn batches kept in memory for their send at most (each is bounded by SPAWN_BATCH_CHARS). */
const UNSENT_SPAWNS_IN_MEMORY = 64;

export abstract class SqlOutboxes extends SqlRows {
  protected readyTouched = false;
  /**
   * Spawn batches this instance wrote to the outbox and has not seen confirmed, by id, as their JSON text:
   * sent from memory. Cleared after a rolled-back transaction (its rows are gone; the others are read back).
   */
  protected readonly unsentSpawns = new Map<number, string>();
  /** Set when a transaction wrote to an outbox of the shard protocol (the actor then flushes it). */
  protected linkTouched = false;
  protected gatherTouched = false;

  /** True once since the last call if a state became ready (the actor then ensures its alarm). */
  takeReadyTouched(): boolean {
    const touched = this.readyTouched;
    this.readyTouched = false;
    return touched;
  }

  /** True once since the last call if a transaction queued a gather (the actor then runs its alarm). */
  takeGatherTouched(): boolean {
    const touched = this.gatherTouched;
    this.gatherTouched = false;
    return touched;
  }

  /** True once since the last call if a transaction wrote to the shard protocol's outboxes. */
  takeLinkTouched(): boolean {
    const touched = this.linkTouched;
    this.linkTouched = false;
    return touched;
  }

  /**
   * Batches of branches not yet confirmed by their shard, oldest first, each as its JSON text (an `adopt`
   * RPC carries one string, not thousands of objects to clone on both sides). A batch this instance wrote
   * is taken from memory (no read of its row); one written before a restart is read back and checked.
   */
  pendingSpawns(limit: number): { id: number; shard: number; body: string }[] {
    return this.sql
      .exec<{ id: number; shard: number }>("SELECT id, shard FROM spawn_outbox ORDER BY id LIMIT ?", limit)
      .toArray()
      .map((r) => ({
        id: r.id,
        shard: r.shard,
        body: this.unsentSpawns.get(r.id) ?? this.storedSpawn(r.id),
      }));
  }

  /** Keeps a batch just written for its send, unless many are unconfirmed already (a shard is down). */
  protected keepUnsent(id: number, body: string): void {
    if (this.unsentSpawns.size < UNSENT_SPAWNS_IN_MEMORY) this.unsentSpawns.set(id, body);
  }

  /**
   * A batch read back from its row (an instance after a crash, or an upgrade): checked and sent in the
   * current shape.
   */
  private storedSpawn(id: number): string {
    const { body } = this.sql.exec<{ body: string }>("SELECT body FROM spawn_outbox WHERE id = ?", id).one();
    return JSON.stringify(parseSpawnBatch(body === CHUNKED ? this.readChunks(-id, "spawn") : body));
  }

  spawnConfirmed(id: number): void {
    this.unsentSpawns.delete(id);
    this.sql.exec("DELETE FROM spawn_outbox WHERE id = ?", id);
    this.dropChunks(-id, "spawn");
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
      .map((r) => ({ id: r.id, delta: parseSettleDelta(r.body) }));
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

  /** One page of `subtreeTexts`, after the position `after`, for a unite's gather. */
  subtreePage(
    identifier: string,
    prefix: string,
    field: string,
    after: SubtreePosition | null,
    limit: number,
  ): SubtreePage {
    return this.subtreeRows(identifier, prefix, field, after, limit);
  }

  /** Due CREATED states not yet handed out, oldest due first, through the `states_ready` index. */
  readyStates(now: number, limit: number): StateRow[] {
    const cursor = this.sql.exec(
      selectStates(
        "WHERE status = 'CREATED' AND offered = 0 AND enqueue_after <= ? ORDER BY enqueue_after LIMIT ?",
      ),
      now,
      limit,
    );
    return stateRecords(cursor).map((r) => this.toRow(r));
  }

  /**
   * Marks pull states as offered to their ready queue (they stay CREATED until a runtime claims them), or
   * as to be offered again.
   */
  markOffered(seqs: readonly number[], offered: boolean): void {
    // Ready again: the actor must make sure its alarm will dispatch them.
    if (!offered && seqs.length > 0) this.readyTouched = true;
    if (seqs.length === 0) return;
    this.sql.exec(
      "UPDATE states SET offered = ? WHERE status = 'CREATED' AND seq IN (SELECT value FROM json_each(?))",
      offered ? 1 : 0,
      JSON.stringify(seqs),
    );
    this.cost.rowsWritten += seqs.length;
  }

  /**
   * Keeps at most `limit` states of node `identifier` holding a slot (run control, `max_concurrency`):
   * running (QUEUED, EXECUTED), offered to a pull runtime, or ready. Parks the newest ready ones beyond
   * the limit (offered = 2: out of the ready index, so dispatch skips them) and unparks the oldest parked
   * ones while slots are free. Dispatch takes only ready states, so no more than `limit` ever run.
   * O(limit + newly ready) per call, through the `states_held` and `states_parked` indexes.
   */
  balanceSlots(identifier: string, limit: number): void {
    const held = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM states WHERE identifier = ? AND (status IN ('QUEUED', 'EXECUTED') OR (status = 'CREATED' AND offered < 2))",
        identifier,
      )
      .one().n;
    if (held > limit) {
      this.sql.exec(
        `UPDATE states SET offered = 2 WHERE seq IN (SELECT seq FROM states WHERE identifier = ? AND status = 'CREATED'
           AND offered = 0 ORDER BY enqueue_after DESC, seq DESC LIMIT ?)`,
        identifier,
        held - limit,
      );
      this.cost.rowsWritten += held - limit;
    } else if (held < limit) {
      const unparked = this.sql.exec(
        `UPDATE states SET offered = 0 WHERE seq IN (SELECT seq FROM states WHERE identifier = ? AND status = 'CREATED'
           AND offered = 2 ORDER BY enqueue_after, seq LIMIT ?)`,
        identifier,
        limit - held,
      ).rowsWritten;
      this.cost.rowsWritten += unparked;
      if (unparked > 0) this.readyTouched = true;
    }
  }

  /**
   * Leased states (QUEUED, or EXECUTED while pages of outputs arrive) whose lease expired by `now`;
   * `eager` when it was handed to a consumer in the answer to a report (a negative delivery).
   */
  expiredLeases(now: number, limit: number): { seq: number; eager: boolean }[] {
    return this.sql
      .exec<{ seq: number; delivery: number | null; status: string }>(
        "SELECT seq, delivery, status FROM states WHERE status IN ('QUEUED', 'EXECUTED') AND lease_expires <= ? ORDER BY lease_expires LIMIT ?",
        now,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, eager: r.status === "QUEUED" && r.delivery !== null && r.delivery < 0 }));
  }

  /**
   * Due ready states that may run eagerly (never handed out eagerly before), oldest due first; the caller
   * keeps those of the nodes the consumer serves.
   */
  eagerCandidates(
    now: number,
    limit: number,
  ): { seq: number; identifier: string; namespace: string; node_name: string }[] {
    return this.sql
      .exec<{ seq: number; identifier: string; namespace: string; node_name: string }>(
        "SELECT seq, identifier, namespace, node_name FROM states WHERE status = 'CREATED' AND offered = 0 AND enqueue_after <= ? AND (delivery IS NULL OR delivery > 0) ORDER BY enqueue_after LIMIT ?",
        now,
        limit,
      )
      .toArray();
  }

  /** Renews the lease of eager deliveries a consumer confirmed. */
  renewLeases(seqs: readonly number[], leaseExpires: number): void {
    if (seqs.length === 0) return;
    this.sql.exec(
      "UPDATE states SET lease_expires = ? WHERE status = 'QUEUED' AND seq IN (SELECT value FROM json_each(?))",
      leaseExpires,
      JSON.stringify(seqs),
    );
    this.cost.rowsWritten += seqs.length;
  }

  /**
   * Push deliveries sent before epoch `epoch` (an earlier instance of this actor) that are still out: a
   * QUEUED state, or an EXECUTED head whose pages are still arriving. Pull claims have no delivery.
   */
  staleDeliveries(epoch: number, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>(
        "SELECT seq FROM states WHERE status IN ('QUEUED', 'EXECUTED') AND delivery > 0 AND delivery < ? ORDER BY lease_expires LIMIT ?",
        epoch,
        limit,
      )
      .toArray()
      .map((r) => r.seq);
  }

  /** Records that these states are sent again in delivery `epoch`, with a new execution lease. */
  redeliver(seqs: readonly number[], epoch: number, leaseExpires: number): void {
    if (seqs.length === 0) return;
    this.sql.exec(
      "UPDATE states SET delivery = ?, lease_expires = ? WHERE seq IN (SELECT value FROM json_each(?))",
      epoch,
      leaseExpires,
      JSON.stringify(seqs),
    );
    this.cost.rowsWritten += seqs.length;
  }

  /**
   * Per node, this actor's due states that wait (CREATED or QUEUED), the oldest first: a full scan, for a
   * run that stopped moving only.
   */
  waitingNodes(now: number, limit: number): WaitingNode[] {
    return this.sql
      .exec<{ identifier: string; node_name: string; namespace: string; n: number; since: number }>(
        `SELECT identifier, node_name, namespace, count(*) AS n, min(updated_at) AS since FROM states
          WHERE status IN ('CREATED', 'QUEUED') AND enqueue_after <= ?
          GROUP BY identifier, node_name, namespace ORDER BY since LIMIT ?`,
        now,
        limit,
      )
      .toArray()
      .map((r) => ({
        identifier: r.identifier,
        node_name: r.node_name,
        namespace: r.namespace,
        states: r.n,
        since: isoNaive(r.since),
      }));
  }

  /** Status and delivery of each state (absent: no such state), for a consumer's pickup. */
  deliveriesOf(seqs: readonly number[]): Map<number, { status: string; delivery: number | null }> {
    const out = new Map<number, { status: string; delivery: number | null }>();
    const rows = this.sql.exec<{ seq: number; status: string; delivery: number | null }>(
      "SELECT seq, status, delivery FROM states WHERE seq IN (SELECT value FROM json_each(?))",
      JSON.stringify(seqs),
    );
    for (const [seq, status, delivery] of rows.raw() as Iterable<[number, string, number | null]>) {
      out.set(seq, { status, delivery });
    }
    return out;
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
      .map((r) => ({ id: r.id, seqs: parseSeqs(r.seqs, `dispatch round ${r.id}`) }));
  }

  /**
   * The earliest moment something needs the alarm: a due state, an expiring lease, an unconfirmed round,
   * or `deliveryWatch` while push deliveries are out (so that the actor wakes after a restart that lost
   * them, even when its next lease is far away).
   */
  nextWake(resendAfterMs: number, deliveryWatch: number): number | null {
    // One statement of scalar subqueries, each answered from its index (not a compound SELECT: a Durable
    // Object's SQLite allows only a few terms in one). It runs after every dispatch pass.
    const [row] = Array.from(
      this.sql
        .exec(
          `SELECT
             (SELECT min(enqueue_after) FROM states WHERE status = 'CREATED' AND offered = 0),
             (SELECT min(lease_expires) FROM states WHERE status IN ('QUEUED', 'EXECUTED')),
             (SELECT min(at) + ?1 FROM dispatch_rounds),
             (SELECT min(at) + ?1 FROM spawn_outbox),
             (SELECT min(at) + ?1 FROM settle_outbox),
             (SELECT min(at) + ?1 FROM gathers),
             EXISTS (SELECT 1 FROM states WHERE status IN ('QUEUED', 'EXECUTED') AND delivery IS NOT NULL)`,
          resendAfterMs,
        )
        .raw(),
    );
    const times = (row ?? []).slice(0, 6) as (number | null)[];
    if (row?.[6] === 1) times.push(deliveryWatch);
    const due = times.filter((t): t is number => t !== null);
    return due.length > 0 ? Math.min(...due) : null;
  }
}
