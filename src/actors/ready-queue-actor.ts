// The ready-queue actor: one Durable Object per (namespace, node name), holding references to ready
// states of pull nodes until a runtime claims them through `states/enqueue`. Run actors offer refs in
// batches; a poller takes some, the run actor claims them (CREATED → QUEUED), and the poller acks them.
// A ref taken but never acked (the poller crashed in between) is handed out again after RETAKE_AFTER_MS.
import { DurableObject } from "cloudflare:workers";
import type { ReadyRef } from "../dispatch/ready-refs";
import { RETAKE_AFTER_MS } from "../engine/limits";
import { StoredDataError } from "./stored";

export class ReadyQueueActor extends DurableObject<Env> {
  /**
   * Whether the table exists. It is created by the first offer, so a queue that was only ever polled
   * (a node name nobody serves, asked for by a runtime) keeps no storage at all.
   */
  private created = false;

  /** Polls waiting for an offer (`waitForOffer`); each wakes on the next offer or at its own deadline. */
  private readonly waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.created =
        ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ready'").toArray()
          .length > 0;
    });
  }

  private create(): void {
    const sql = this.ctx.storage.sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS ready (state_id TEXT PRIMARY KEY, due INTEGER NOT NULL, taken_at INTEGER) WITHOUT ROWID",
    );
    sql.exec("CREATE INDEX IF NOT EXISTS ready_due ON ready (due)");
    this.created = true;
  }

  /** Adds (or re-adds) refs; a re-offered ref is available again from its new due time. */
  async offer(refs: ReadyRef[]): Promise<void> {
    const sql = this.ctx.storage.sql;
    if (refs.length === 0) return;
    if (!this.created) this.create();
    // One statement for the batch: its refs travel as one JSON parameter (an offer is at most a round).
    sql.exec(
      `INSERT INTO ready (state_id, due, taken_at)
         SELECT value->>0, value->>1, NULL FROM json_each(?) WHERE true
       ON CONFLICT (state_id) DO UPDATE SET due = excluded.due, taken_at = NULL`,
      JSON.stringify(refs.map((r) => [r.id, r.due])),
    );
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * Resolves when this queue may have a ref to take: at once when one is due and not taken; otherwise on
   * the next offer, when the earliest ref still waiting for its due time (a retry's backoff, a start
   * delay) becomes due, or after `waitMs`, whichever comes first. Long polling for `states/enqueue`;
   * nothing is taken here, so a poll that stops waiting loses nothing.
   */
  async waitForOffer(waitMs: number, now: number = Date.now()): Promise<void> {
    if (waitMs <= 0 || this.hasTakeable(now)) return;
    const nextDue = this.nextDue(now);
    const ms = nextDue === undefined ? waitMs : Math.min(waitMs, nextDue - now);
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  /** The earliest due time after `now` of a ref nobody took; undefined when there is none. */
  private nextDue(now: number): number | undefined {
    if (!this.created) return undefined;
    const { due } = this.ctx.storage.sql
      .exec("SELECT min(due) AS due FROM ready WHERE due > ? AND taken_at IS NULL", now)
      .one();
    return typeof due === "number" ? due : undefined;
  }

  private hasTakeable(now: number): boolean {
    if (!this.created) return false;
    return (
      this.ctx.storage.sql
        .exec(
          "SELECT 1 FROM ready WHERE due <= ? AND (taken_at IS NULL OR taken_at <= ?) LIMIT 1",
          now,
          now - RETAKE_AFTER_MS,
        )
        .toArray().length > 0
    );
  }

  /** Takes up to `limit` due refs, oldest due first; O(limit) through the due index. */
  async take(limit: number, now: number = Date.now()): Promise<string[]> {
    if (limit <= 0 || !this.created) return [];
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const ids: string[] = [];
      const cursor = sql.exec("SELECT state_id, taken_at FROM ready WHERE due <= ? ORDER BY due", now);
      for (const raw of cursor) {
        const row = readyRow(raw);
        if (row.taken_at !== null && row.taken_at > now - RETAKE_AFTER_MS) continue;
        ids.push(row.state_id);
        if (ids.length >= limit) break;
      }
      if (ids.length > 0) {
        sql.exec(
          "UPDATE ready SET taken_at = ? WHERE state_id IN (SELECT value FROM json_each(?))",
          now,
          JSON.stringify(ids),
        );
      }
      return ids;
    });
  }

  /**
   * Forgets refs that were claimed (or found stale) by their run actors. Only taken refs: a ref offered
   * again between take and ack (its state was requeued meanwhile) has `taken_at` reset and must survive.
   */
  async ack(ids: string[]): Promise<void> {
    if (!this.created) return;
    const sql = this.ctx.storage.sql;
    if (ids.length === 0) return;
    sql.exec(
      "DELETE FROM ready WHERE taken_at IS NOT NULL AND state_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(ids),
    );
  }

  /** Polls waiting in `waitForOffer` right now. */
  async waiting(): Promise<number> {
    return this.waiters.size;
  }

  async size(): Promise<number> {
    if (!this.created) return 0;
    const { n } = this.ctx.storage.sql.exec("SELECT count(*) AS n FROM ready").one();
    if (typeof n !== "number") throw new StoredDataError("ready-queue size", "count(*) is not a number");
    return n;
  }
}

/** One row of the `ready` table, checked: the hot path of every poll, so no schema library, just typeof. */
function readyRow(row: Record<string, SqlStorageValue>): { state_id: string; taken_at: number | null } {
  const { state_id, taken_at } = row;
  if (typeof state_id !== "string" || !(taken_at === null || typeof taken_at === "number")) {
    throw new StoredDataError("ready-queue ref", `unexpected row ${JSON.stringify(row)}`);
  }
  return { state_id, taken_at };
}
