// Dispatch, the run actor's side (the wire is messages.ts and pack.ts; the push consumer is the SDK's
// runtime.ts; pull runtimes take ready states through the states/enqueue route). A ready state is a CREATED row not yet handed out, written in the same
// transaction that makes the state ready. Each round claims a bounded batch of
// due states (push: CREATED → QUEUED with a lease; pull: marked offered), records them in one
// `dispatch_rounds` row, sends them, and deletes the row once the send succeeded. A round whose send
// failed or was cut short by a crash is sent again (duplicates are harmless: reports apply only to a
// QUEUED state), and the alarm stays armed while anything is due, leased or unconfirmed, so every ready
// state is eventually dispatched.
import { configOf } from "../config";
import { stateIdOf } from "../engine/ids";
import {
  DISPATCH_ROUND_STATES,
  DISPATCH_ROUNDS_PER_PASS,
  INLINE_INPUTS_BYTES,
  RESEND_AFTER_MS,
  SEND_CONCURRENCY,
} from "../engine/limits";
import type { Transport } from "../engine/model";
import type { GraphIndex } from "../engine/run/graph-index";
import type { StateRow } from "../engine/run/types";
import type { DispatchedState, DispatchMessage } from "./messages";
import { byteLength, packMessages } from "./pack";
import { queueBinding } from "./queues";
import { type ReadyRef, readyQueueName } from "./ready-refs";

/** What dispatch needs of a run actor's storage (the run actor's SqlRunStore implements it). */
export interface DispatchStore {
  getState(seq: number): StateRow | undefined;
  /** Due CREATED states not yet handed out, oldest due first. */
  readyStates(now: number, limit: number): StateRow[];
  /** Marks pull states as offered to their ready queue, or as to be offered again. */
  markOffered(seqs: readonly number[], offered: boolean): void;
  openRound(seqs: readonly number[], now: number): number;
  closeRound(id: number): void;
  /** Rounds opened at or before `before` and never confirmed, oldest first. */
  unconfirmedRounds(before: number, limit: number): { id: number; seqs: number[] }[];
  /** The earliest moment something needs the alarm, or null. */
  nextWake(resendAfterMs: number): number | null;
}

export interface DispatchHost {
  env: Env;
  store: DispatchStore;
  runKey(): string | null;
  /** This actor's name (the run key, or the run key and shard): queue messages carry it for the reports. */
  actorName(): string | null;
  graph(): GraphIndex | null;
  /** CREATED → QUEUED (with a lease) through the engine. MUST be called inside `transact`. */
  claim(states: StateRow[], now: number, leaseExpires: number): StateRow[];
  transact<T>(fn: () => T): T;
  /** Arms the actor's one alarm no later than `at`; resolves when the alarm write is durable. */
  scheduleAlarm(at: number): Promise<void>;
}

export class Dispatcher {
  readonly cost = { queueMessages: 0, sendBatchCalls: 0, readyQueueOffers: 0 };
  private running: Promise<void> | null = null;
  /** Callers waiting for the next pass (one that starts after they called). */
  private waiting: (() => void)[] = [];

  constructor(private readonly host: DispatchHost) {}

  /**
   * Sends what is due. Resolves once a pass that started after the call has ended: what the caller made
   * ready is on its way. A pass sends at most DISPATCH_ROUNDS_PER_PASS rounds, so a caller never waits behind an
   * unbounded stream of other callers' work (a wide fan-out reporting page after page); what is left
   * goes out in the next pass.
   */
  flush(): Promise<void> {
    const done = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.start();
    return done;
  }

  private start(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      // A caller that came while the loop was arming the alarm, after its last pass, gets a pass too.
      if (this.waiting.length > 0) this.start();
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const pass = this.waiting;
        this.waiting = [];
        try {
          let more = false;
          for (let i = 0; i < DISPATCH_ROUNDS_PER_PASS; i++) {
            more = await this.round();
            if (!more) break;
          }
          // Full passes leave work behind: another pass takes it, with nobody waiting on it.
          if (more) this.waiting.push(() => {});
        } catch (e) {
          // Nothing is lost: the ready states and unconfirmed rounds stay in storage for the alarm.
          console.error("dispatch pass failed; the alarm will retry", e instanceof Error ? e.message : e);
        } finally {
          for (const resolve of pass) resolve();
        }
      }
    } finally {
      await this.arm().catch((e) =>
        console.error("arming the alarm failed", e instanceof Error ? e.message : e),
      );
    }
  }

  /** Sends one round of due states; true when there may be more. */
  private async round(): Promise<boolean> {
    const { store } = this.host;
    const now = Date.now();
    const taken = this.host.transact(() => {
      const queued: StateRow[] = [];
      const pulled: StateRow[] = [];
      // Rounds never confirmed (failed send, crash mid-send): their states go out again if still waiting.
      // One unconfirmed round per pass, so a long outage's backlog is re-sent in bounded pieces.
      const unconfirmed = store.unconfirmedRounds(now - RESEND_AFTER_MS, 1);
      for (const round of unconfirmed) {
        for (const seq of round.seqs) {
          const state = store.getState(seq);
          if (!state) continue;
          const transport = this.transportOf(state);
          if (state.status === "QUEUED" && transport !== "pull") queued.push(state);
          else if (state.status === "CREATED" && transport === "pull") pulled.push(state);
        }
        store.closeRound(round.id);
      }
      const fresh = store.readyStates(
        now,
        Math.max(0, DISPATCH_ROUND_STATES - queued.length - pulled.length),
      );
      const toClaim: StateRow[] = [];
      for (const state of fresh) (this.transportOf(state) === "pull" ? pulled : toClaim).push(state);
      const lease = now + configOf(this.host.env).pushLeaseMs;
      queued.push(...this.host.claim(toClaim, now, lease));
      store.markOffered(
        pulled.map((s) => s.seq),
        true,
      );
      const all = [...queued, ...pulled];
      const round =
        all.length > 0
          ? store.openRound(
              all.map((s) => s.seq),
              now,
            )
          : null;
      return { queued, pulled, round, more: all.length >= DISPATCH_ROUND_STATES || unconfirmed.length > 0 };
    });
    if (taken.round === null) return false;
    try {
      await Promise.all([this.send(taken.queued), this.offer(taken.pulled)]);
    } catch (e) {
      // The round stays unconfirmed; the alarm sends it again shortly.
      console.error("dispatch failed; the alarm will retry", e instanceof Error ? e.message : e);
      return false;
    }
    const round = taken.round;
    this.host.transact(() => this.host.store.closeRound(round));
    return taken.more;
  }

  private transportOf(state: StateRow): Transport | undefined {
    const graph = this.host.graph();
    return graph?.info(graph.node(state.identifier))?.transport;
  }

  /**
   * Sends push states to the queue of the runtime that registered each node (the run's snapshot names its
   * binding): one group of messages per queue.
   */
  private async send(states: StateRow[]): Promise<void> {
    const runKey = this.host.runKey();
    const graph = this.host.graph();
    if (!runKey || !graph || states.length === 0) return;
    const byQueue = new Map<string, DispatchedState[]>();
    for (const s of states) {
      const info = graph.info(graph.node(s.identifier));
      const d: DispatchedState = {
        id: stateIdOf(runKey, s.seq),
        node: s.node_name,
        ns: s.namespace,
        identifier: s.identifier,
      };
      if (byteLength(s.inputs) <= INLINE_INPUTS_BYTES) d.inputs = s.inputs;
      if (info && info.secrets.length > 0) d.secrets = true;
      // A snapshot always names the queue of a push node (the trigger refused it otherwise).
      const queue = info?.queue ?? "";
      const group = byQueue.get(queue);
      if (group) group.push(d);
      else byQueue.set(queue, [d]);
    }
    const { statesPerMessage } = configOf(this.host.env);
    const sends: { queue: Queue; batch: DispatchMessage[] }[] = [];
    for (const [name, dispatched] of byQueue) {
      const queue = queueBinding(this.host.env, name);
      if (queue === null) {
        // Only if the engine lost a binding after the run started: the states stay QUEUED until their
        // lease ends them (and the retry policy decides), rather than be re-sent every second.
        console.error(
          `dispatch: the engine has no queue binding '${name}'; ${dispatched.length} states wait for their lease`,
        );
        continue;
      }
      for (const batch of packMessages(this.host.actorName() ?? runKey, dispatched, { statesPerMessage })) {
        sends.push({ queue, batch });
      }
    }
    for (let i = 0; i < sends.length; i += SEND_CONCURRENCY) {
      await Promise.all(
        sends.slice(i, i + SEND_CONCURRENCY).map(async ({ queue, batch }) => {
          await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
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

  /** Arms the alarm for the earliest due state, lease or unconfirmed round. */
  async arm(): Promise<void> {
    const next = this.host.store.nextWake(RESEND_AFTER_MS);
    if (next === null) return;
    await this.host.scheduleAlarm(Math.max(next, Date.now() + 10));
  }
}
