// The run actor's dispatch outbox. A state is written to the outbox in the same transaction that makes
// it ready; this class sends due entries through the queue and deletes them only after the send
// succeeded. An entry whose send was interrupted (crash, failed send) is sent again later, and the alarm
// keeps firing while the outbox is not empty, so every ready state is eventually dispatched.

import type { DispatchedState } from "../dispatch/messages";
import { byteLength, INLINE_INPUTS_BYTES, packMessages } from "../dispatch/pack";
import { stateIdOf } from "../engine/ids";
import type { Transport } from "../engine/model";
import type { GraphIndex } from "../engine/run/graph-index";
import type { StateRow } from "../engine/run/types";
import { type ReadyRef, readyQueueName } from "./ready-queue-actor";
import type { SqlRunStore } from "./run-sql-store";

/** How many outbox entries one round takes (bounds memory on a 100k fan-out). */
const ROUND = 2_000;
/** An entry sent but not acknowledged after this long is sent again. */
export const RESEND_AFTER_MS = 60_000;
/** After a failed send, wait this long before the alarm tries again. */
const SEND_RETRY_MS = 1_000;
/** sendBatch calls in flight at once. */
const SEND_CONCURRENCY = 4;
const DEFAULT_STATES_PER_MESSAGE = 16;
/** A queue-dispatched state unreported after this long is treated as errored ("lease expired"). */
export const DEFAULT_PUSH_LEASE_MS = 30 * 60_000;
/** Pull runtimes' lease (Exosphere has none; a runtime that dies no longer strands its states). */
export const DEFAULT_PULL_LEASE_MS = 5 * 60_000;
export const UPSERT_LEASE =
  "INSERT INTO leases (seq, expires) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET expires = excluded.expires";

export interface DispatchHost {
  ctx: DurableObjectState;
  env: Env;
  store: SqlRunStore;
  runKey(): string | null;
  graph(): GraphIndex | null;
  /** CREATED → QUEUED through the engine. MUST be called inside `transact`. */
  claim(seqs: number[], now: number): StateRow[];
  transact<T>(fn: () => T): T;
  /** Arms the actor's one alarm no later than `at`; resolves when the alarm write is durable. */
  scheduleAlarm(at: number): Promise<void>;
}

export class Dispatcher {
  readonly cost = { queueMessages: 0, sendBatchCalls: 0, readyQueueOffers: 0 };
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly host: DispatchHost) {}

  /** Sends everything due. Concurrent callers share one loop; a call during a loop makes it go again. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        while (await this.round()) {
          // keep going while full rounds were sent
        }
      } while (this.again);
    } finally {
      await this.arm();
    }
  }

  /** Sends one round of due entries; true when there may be more. */
  private async round(): Promise<boolean> {
    const { ctx, store } = this.host;
    const sql = ctx.storage.sql;
    const now = Date.now();
    const taken = this.host.transact(() => {
      const rows = sql
        .exec<{ seq: number; sent_at: number | null }>(
          `SELECT seq, sent_at FROM outbox WHERE (sent_at IS NULL AND due <= ?) OR sent_at <= ?
           ORDER BY due LIMIT ?`,
          now,
          now - RESEND_AFTER_MS,
          ROUND,
        )
        .toArray();
      const toClaim: number[] = [];
      const queued: StateRow[] = [];
      const pulled: StateRow[] = [];
      for (const r of rows) {
        const state = store.getState(r.seq);
        const transport = state ? this.transportOf(state) : undefined;
        if (state?.status === "CREATED" && transport === "pull") pulled.push(state);
        else if (state?.status === "CREATED" && r.sent_at === null) toClaim.push(state.seq);
        else if (state?.status === "QUEUED" && transport === "queue" && r.sent_at !== null)
          queued.push(state);
        // anything else moved on since it was written: nothing to send
      }
      const claimed = this.host.claim(toClaim, now);
      const lease = now + this.leaseMs("PUSH_LEASE_MS", DEFAULT_PUSH_LEASE_MS);
      for (const s of claimed) sql.exec(UPSERT_LEASE, s.seq, lease);
      queued.push(...claimed);
      const sending = new Set([...queued, ...pulled].map((s) => s.seq));
      for (const r of rows) {
        if (sending.has(r.seq)) sql.exec("UPDATE outbox SET sent_at = ? WHERE seq = ?", now, r.seq);
        else sql.exec("DELETE FROM outbox WHERE seq = ?", r.seq);
      }
      return { queued, pulled, full: rows.length === ROUND };
    });
    const all = [...taken.queued, ...taken.pulled];
    if (all.length === 0) return taken.full;
    try {
      await Promise.all([this.send(taken.queued), this.offer(taken.pulled)]);
    } catch (e) {
      console.error("dispatch failed; the alarm will retry", e instanceof Error ? e.message : e);
      // Let the entries become due again soon instead of waiting for the resend delay.
      this.host.transact(() => {
        for (const s of all) {
          sql.exec(
            "UPDATE outbox SET sent_at = ? WHERE seq = ?",
            now - RESEND_AFTER_MS + SEND_RETRY_MS,
            s.seq,
          );
        }
      });
      return false;
    }
    this.host.transact(() => {
      for (const s of all) sql.exec("DELETE FROM outbox WHERE seq = ? AND sent_at = ?", s.seq, now);
    });
    return taken.full;
  }

  /** Lease length from configuration (milliseconds), or the default. */
  leaseMs(name: "PUSH_LEASE_MS" | "PULL_LEASE_MS", fallback: number): number {
    const configured = Number((this.host.env as unknown as Record<string, unknown>)[name]);
    return Number.isFinite(configured) && configured > 0 ? configured : fallback;
  }

  private transportOf(state: StateRow): Transport | undefined {
    const graph = this.host.graph();
    return graph?.info(graph.node(state.identifier))?.transport;
  }

  private async send(states: StateRow[]): Promise<void> {
    const runKey = this.host.runKey();
    const graph = this.host.graph();
    if (!runKey || !graph || states.length === 0) return;
    const perMessage = Number(this.host.env.DISPATCH_STATES_PER_MESSAGE ?? DEFAULT_STATES_PER_MESSAGE);
    const dispatched: DispatchedState[] = states.map((s) => {
      const info = graph.info(graph.node(s.identifier));
      const d: DispatchedState = {
        id: stateIdOf(runKey, s.seq),
        node: s.node_name,
        ns: s.namespace,
        identifier: s.identifier,
      };
      if (byteLength(s.inputs) <= INLINE_INPUTS_BYTES) d.inputs = s.inputs;
      if (info && info.secrets.length > 0) d.secrets = true;
      return d;
    });
    const batches = packMessages(runKey, dispatched, {
      statesPerMessage:
        Number.isFinite(perMessage) && perMessage >= 1 ? perMessage : DEFAULT_STATES_PER_MESSAGE,
    });
    for (let i = 0; i < batches.length; i += SEND_CONCURRENCY) {
      await Promise.all(
        batches.slice(i, i + SEND_CONCURRENCY).map(async (batch) => {
          await this.host.env.DISPATCH.sendBatch(
            batch.map((body) => ({ body, contentType: "json" as const })),
          );
          this.cost.sendBatchCalls += 1;
          this.cost.queueMessages += batch.length;
        }),
      );
    }
  }

  /** Hands pull states to their ready-queue actors: one RPC per (namespace, node) per round. */
  private async offer(states: StateRow[]): Promise<void> {
    const runKey = this.host.runKey();
    if (!runKey || states.length === 0) return;
    const groups = new Map<string, ReadyRef[]>();
    for (const s of states) {
      const name = readyQueueName(s.namespace, s.node_name);
      const refs = groups.get(name) ?? [];
      refs.push({ id: stateIdOf(runKey, s.seq), due: s.enqueue_after });
      groups.set(name, refs);
    }
    await Promise.all(
      [...groups].map(([name, refs]) => this.host.env.READY_QUEUE.getByName(name).offer(refs)),
    );
    this.cost.readyQueueOffers += groups.size;
  }

  /** Arms the alarm for the earliest outbox entry or lease still pending. */
  async arm(): Promise<void> {
    const next = this.host.ctx.storage.sql
      .exec<{ t: number | null }>(
        `SELECT min(t) AS t FROM (
           SELECT min(CASE WHEN sent_at IS NULL THEN due ELSE sent_at + ? END) AS t FROM outbox
           UNION ALL SELECT min(expires) FROM leases)`,
        RESEND_AFTER_MS,
      )
      .one().t;
    if (next === null) return;
    const current = await this.host.ctx.storage.getAlarm();
    if (current === null || current > next)
      await this.host.ctx.storage.setAlarm(Math.max(next, Date.now() + 10));
  }
}
