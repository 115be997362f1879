// Dispatch, the run actor's side (the wire is contracts/dispatch.ts and pack.ts; the push consumer is the SDK's
// runtime.ts; pull runtimes take ready states through the states/enqueue route). A ready state is a CREATED row not yet handed out, written in the same
// transaction that makes the state ready. Each round claims a bounded batch of due states in one
// transaction (push: CREATED → QUEUED with a lease, tagged with the delivery; pull: marked offered) and
// sends them. A push round writes nothing more: a send that fails is recorded then as a
// `dispatch_rounds` row, which the alarm sends again (duplicates are harmless: reports apply only to a
// QUEUED state), and a crash before or during the send is the next instance's to repair (below). A pull
// round's offers are recorded in a row before they go out and deleted once they are confirmed. The alarm
// stays armed while anything is due, leased or unconfirmed, so every ready state is eventually dispatched.
//
// Two leases (design §6). Every push claim is tagged with the actor instance's delivery epoch. A restart
// of the engine can lose the queue's messages with it (local workerd keeps them in memory), so a new
// instance waits one delivery lease for consumers to confirm (pick up, or heartbeat) what earlier instances
// sent, then sends the rest again in its own epoch: no attempt is spent, and a late copy of an old message
// is refused at pickup. The execution lease (PUSH_LEASE_MS from the send) is the one whose expiry is a
// node error.
import { configOf } from "../config";
import type { DispatchedState, DispatchMessage } from "../contracts/dispatch";
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
import { jsonBytes, packMessages } from "./pack";
import { queueBinding } from "./queues";
import { type ReadyRef, readyQueueName } from "./ready-refs";

/** What dispatch needs of a run actor's storage (the run actor's SqlRunStore implements it). */
export interface DispatchStore {
  getState(seq: number): StateRow | undefined;
  /** Due CREATED states not yet handed out, oldest due first. */
  readyStates(now: number, limit: number): StateRow[];
  /** Parks and unparks ready states of a node so at most `limit` hold a slot (run control). */
  balanceSlots(identifier: string, limit: number): void;
  /** Marks pull states as offered to their ready queue, or as to be offered again. */
  markOffered(seqs: readonly number[], offered: boolean): void;
  openRound(seqs: readonly number[], now: number): number;
  /** Rounds of states born claimed (a wide fan-out's branches) that committed and wait to be sent. */
  takeBorn(): StateRow[][];
  closeRound(id: number): void;
  /** Rounds opened at or before `before` and never confirmed, oldest first. */
  unconfirmedRounds(before: number, limit: number): { id: number; seqs: number[] }[];
  /** Push deliveries of an earlier epoch still out (QUEUED, or EXECUTED while pages arrive). */
  staleDeliveries(epoch: number, limit: number): number[];
  /** Records that these states are sent again in delivery `epoch`, with a new execution lease. */
  redeliver(seqs: readonly number[], epoch: number, leaseExpires: number): void;
  /** The earliest moment something needs the alarm (`deliveryWatch` while deliveries are out), or null. */
  nextWake(resendAfterMs: number, deliveryWatch: number): number | null;
}

export interface DispatchHost {
  env: Env;
  store: DispatchStore;
  runKey(): string | null;
  /** This actor's name (the run key, or the run key and shard): queue messages carry it for the reports. */
  actorName(): string | null;
  graph(): GraphIndex | null;
  /** CREATED → QUEUED (with a lease and a delivery) through the engine. MUST be called inside `transact`. */
  claim(states: StateRow[], now: number, leaseExpires: number, delivery: number): StateRow[];
  /** This instance's delivery epoch: every push claim or re-send it makes is tagged with it. */
  deliveryEpoch(): number;
  /**
   * Deliveries presumed lost (sent by an earlier instance, unconfirmed for a whole delivery lease since
   * this one started), at most `limit`; [] while it is too early to tell.
   */
  lostDeliveries(now: number, limit: number): number[];
  transact<T>(fn: () => T): T;
  /** Arms the actor's one alarm no later than `at`; resolves when the alarm write is durable. */
  scheduleAlarm(at: number): Promise<void>;
}

export class Dispatcher {
  readonly cost = { queueMessages: 0, sendBatchCalls: 0, readyQueueOffers: 0, redeliveries: 0 };
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
          await this.sendBorn();
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
    const epoch = this.host.deliveryEpoch();
    const lease = now + configOf(this.host.env).pushLeaseMs;
    const taken = this.host.transact(() => {
      const queued: StateRow[] = [];
      const pulled: StateRow[] = [];
      // Deliveries a restart lost (the queue's messages died with the engine): sent again, tagged with this
      // epoch so that a late copy of the old message is skipped at pickup. No attempt is spent.
      const lost = this.host.lostDeliveries(now, DISPATCH_ROUND_STATES);
      const redelivered = new Set<number>();
      for (const seq of lost) {
        const state = store.getState(seq);
        if (!state || this.transportOf(state) === "pull") continue;
        if (state.status !== "QUEUED" && state.status !== "EXECUTED") continue;
        queued.push(state);
        redelivered.add(seq);
      }
      this.cost.redeliveries += redelivered.size;
      // Rounds never confirmed (failed send, crash mid-send): their states go out again if still waiting.
      // One unconfirmed round per pass, so a long outage's backlog is re-sent in bounded pieces.
      const unconfirmed = store.unconfirmedRounds(now - RESEND_AFTER_MS, 1);
      for (const round of unconfirmed) {
        for (const seq of round.seqs) {
          const state = store.getState(seq);
          if (!state) continue;
          const transport = this.transportOf(state);
          const out = state.status === "QUEUED" || state.status === "EXECUTED";
          if (out && transport !== "pull" && !redelivered.has(seq)) {
            queued.push(state);
            redelivered.add(seq);
          } else if (state.status === "CREATED" && transport === "pull") pulled.push(state);
        }
        store.closeRound(round.id);
      }
      // Sent again in this epoch (the round may be an earlier instance's): tagged so pickups match.
      store.redeliver([...redelivered], epoch, lease);
      // Concurrency limits (run control): only states holding a slot of their node stay ready.
      for (const [identifier, limit] of this.host.graph()?.concurrencyLimits ?? []) {
        store.balanceSlots(identifier, limit);
      }
      const fresh = store.readyStates(
        now,
        Math.max(0, DISPATCH_ROUND_STATES - queued.length - pulled.length),
      );
      // The execution lease: PUSH_LEASE_MS, plus the node's timeout_seconds when it has one (its consumer
      // enforces the timeout itself; the lease is the backstop for a consumer that went away).
      const byLease = new Map<number, StateRow[]>();
      for (const state of fresh) {
        if (this.transportOf(state) === "pull") {
          pulled.push(state);
          continue;
        }
        const at = lease + (this.host.graph()?.executionLeaseMs(state.identifier, 0) ?? 0);
        const group = byLease.get(at);
        if (group) group.push(state);
        else byLease.set(at, [state]);
      }
      for (const [at, states] of byLease) queued.push(...this.host.claim(states, now, at, epoch));
      store.markOffered(
        pulled.map((s) => s.seq),
        true,
      );
      // Only offers are recorded before they go out: a push claim is its own record (see the top).
      const round =
        pulled.length > 0
          ? store.openRound(
              pulled.map((s) => s.seq),
              now,
            )
          : null;
      const more =
        queued.length + pulled.length >= DISPATCH_ROUND_STATES || unconfirmed.length > 0 || lost.length > 0;
      return { queued, pulled, round, more };
    });
    if (taken.queued.length === 0 && taken.pulled.length === 0) return false;
    const [sent, offered] = await Promise.allSettled([
      this.send(taken.queued, epoch),
      this.offer(taken.pulled),
    ]);
    if (offered.status === "rejected") {
      // The round stays unconfirmed; the alarm offers it again shortly.
      console.error("offering failed; the alarm will retry", errorText(offered.reason));
    }
    const close = offered.status === "fulfilled" ? taken.round : null;
    // A push round that went out writes nothing: the next transaction saves its cost counters.
    if (sent.status === "rejected" || close !== null) {
      this.host.transact(() => {
        if (sent.status === "rejected") this.unsent(taken.queued, sent.reason, now);
        if (close !== null) store.closeRound(close);
      });
    }
    return taken.more && sent.status === "fulfilled" && offered.status === "fulfilled";
  }

  /**
   * Records push states whose send failed as an unconfirmed round, which the alarm sends again once it is
   * RESEND_AFTER_MS old. MUST be called inside `transact`.
   */
  private unsent(states: readonly StateRow[], reason: unknown, now: number): void {
    console.error("dispatch failed; the alarm will retry", errorText(reason));
    this.host.store.openRound(
      states.map((s) => s.seq),
      now,
    );
  }

  /**
   * Sends the rounds of states born claimed, from memory (no read, no claim write). A round whose send
   * fails is recorded then as an unconfirmed round, and sent again like any other.
   */
  private async sendBorn(): Promise<void> {
    const born = this.host.store.takeBorn();
    if (born.length === 0) return;
    const epoch = this.host.deliveryEpoch();
    const failed: { states: StateRow[]; reason: unknown }[] = [];
    for (const states of born) {
      try {
        await this.send(states, epoch);
      } catch (e) {
        failed.push({ states, reason: e });
      }
    }
    if (failed.length === 0) return;
    const now = Date.now();
    this.host.transact(() => {
      for (const { states, reason } of failed) this.unsent(states, reason, now);
    });
  }

  private transportOf(state: StateRow): Transport | undefined {
    const graph = this.host.graph();
    return graph?.info(graph.node(state.identifier))?.transport;
  }

  /**
   * Claimed states as a consumer receives them, in a queue message or in the answer to its report:
   * small inputs inline, large ones by reference, a flag for declared secrets, the node's timeout, the
   * delivery.
   */
  describe(states: readonly StateRow[], delivery: number): DispatchedState[] {
    const runKey = this.host.runKey();
    const graph = this.host.graph();
    if (!runKey || !graph) return [];
    return states.map((s) => {
      const info = graph.info(graph.node(s.identifier));
      const d: DispatchedState = {
        id: stateIdOf(runKey, s.seq),
        node: s.node_name,
        ns: s.namespace,
        identifier: s.identifier,
        d: delivery,
      };
      if (jsonBytes(s.inputs) <= INLINE_INPUTS_BYTES) d.inputs = s.inputs;
      if (info && info.secrets.length > 0) d.secrets = true;
      const timeout = graph.node(s.identifier).timeout_seconds;
      if (timeout !== undefined) d.timeout = timeout;
      return d;
    });
  }

  /**
   * Sends push states to the queue of the runtime that registered each node (the run's snapshot names its
   * binding): one group of messages per queue.
   */
  private async send(states: StateRow[], epoch: number): Promise<void> {
    const runKey = this.host.runKey();
    const graph = this.host.graph();
    if (!runKey || !graph || states.length === 0) return;
    const byQueue = new Map<string, DispatchedState[]>();
    for (const d of this.describe(states, epoch)) {
      // A snapshot always names the queue of a push node (the trigger refused it otherwise).
      const queue = graph.info(graph.node(d.identifier))?.queue ?? "";
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
    const next = this.host.store.nextWake(
      RESEND_AFTER_MS,
      Date.now() + configOf(this.host.env).deliveryLeaseMs,
    );
    if (next === null) return;
    await this.host.scheduleAlarm(Math.max(next, Date.now() + 10));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
