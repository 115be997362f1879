// The run actor's dispatch outbox. A state is written to the outbox in the same transaction that makes
// it ready; this class sends due entries through the queue and deletes them only after the send
// succeeded. An entry whose send was interrupted (crash, failed send) is sent again later, and the alarm
// keeps firing while the outbox is not empty, so every ready state is eventually dispatched.

import type { DispatchedState } from "../dispatch/messages";
import { byteLength, INLINE_INPUTS_BYTES, packMessages } from "../dispatch/pack";
import { stateIdOf } from "../engine/ids";
import type { GraphIndex } from "../engine/run/graph-index";
import type { StateRow } from "../engine/run/types";
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

export interface DispatchHost {
  ctx: DurableObjectState;
  env: Env;
  store: SqlRunStore;
  runKey(): string | null;
  graph(): GraphIndex | null;
  /** CREATED → QUEUED through the engine. MUST be called inside `transact`. */
  claim(seqs: number[], now: number): StateRow[];
  transact<T>(fn: () => T): T;
}

export class Dispatcher {
  readonly cost = { queueMessages: 0, sendBatchCalls: 0 };
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
      const fresh = rows.filter((r) => r.sent_at === null).map((r) => r.seq);
      const states = this.host.claim(fresh, now);
      for (const r of rows) {
        if (r.sent_at === null) continue;
        const state = store.getState(r.seq);
        if (state?.status === "QUEUED") states.push(state);
      }
      const sending = new Set(states.map((s) => s.seq));
      for (const r of rows) {
        if (sending.has(r.seq)) sql.exec("UPDATE outbox SET sent_at = ? WHERE seq = ?", now, r.seq);
        else sql.exec("DELETE FROM outbox WHERE seq = ?", r.seq); // the state moved on: nothing to send
      }
      return { states, full: rows.length === ROUND };
    });
    if (taken.states.length === 0) return taken.full;
    try {
      await this.send(taken.states);
    } catch (e) {
      console.error("dispatch send failed; the alarm will retry", e instanceof Error ? e.message : e);
      // Let the entries become due again soon instead of waiting for the resend delay.
      this.host.transact(() => {
        for (const s of taken.states) {
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
      for (const s of taken.states) sql.exec("DELETE FROM outbox WHERE seq = ? AND sent_at = ?", s.seq, now);
    });
    return taken.full;
  }

  private async send(states: StateRow[]): Promise<void> {
    const runKey = this.host.runKey();
    const graph = this.host.graph();
    if (!runKey || !graph) return;
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

  /** Arms the alarm for the earliest entry still in the outbox. */
  private async arm(): Promise<void> {
    const next = this.host.ctx.storage.sql
      .exec<{ t: number | null }>(
        "SELECT min(CASE WHEN sent_at IS NULL THEN due ELSE sent_at + ? END) AS t FROM outbox",
        RESEND_AFTER_MS,
      )
      .one().t;
    if (next === null) return;
    const current = await this.host.ctx.storage.getAlarm();
    if (current === null || current > next)
      await this.host.ctx.storage.setAlarm(Math.max(next, Date.now() + 10));
  }
}
