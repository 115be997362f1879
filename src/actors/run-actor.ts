// The run actor: one Durable Object per run. It owns the run's states in SQLite, applies every
// transition through the platform-free engine inside one storage transaction per RPC, and sends ready
// states out as they become ready (a ready state is a row of its states table).
import { DurableObject } from "cloudflare:workers";
import { configOf } from "../config";
import type {
  Delivery,
  EagerAsk,
  PulledState,
  ReportAnswer,
  RunBootstrap,
  RunNodesView,
  RunRuntimeRpc,
  RunSummary,
  WaitingNode,
} from "../contracts";
import { Dispatcher } from "../dispatch/dispatcher";
import { ConflictError, failed, NotFoundError, ok, type Result, toResult } from "../engine/errors";
import { actorName, shardOfSeq, stateIdOf } from "../engine/ids";
import {
  DISPATCH_SAFETY_MS,
  EAGER_LEASE_MS,
  EAGER_MAX_PER_REPORT,
  MAX_GRAPH_PAGE_STATES,
  MAX_LEASE_EXPIRIES_PER_ALARM,
  MAX_WAITING_NODES,
  RESEND_AFTER_MS,
  STALL_NOTICE_MS,
} from "../engine/limits";
import type { RunStatus } from "../engine/model";
import { leaseExpiryError } from "../engine/run/control";
import { runCounts, runStatus } from "../engine/run/counts";
import { RunEngine } from "../engine/run/engine";
import type { SubtreePage, SubtreePosition } from "../engine/run/gather";
import { GraphIndex } from "../engine/run/graph-index";
import type { NodeCounts } from "../engine/run/node-counts";
import type { Report, ReportOutcome, SettleDelta, SpawnBatch, StateRow } from "../engine/run/types";
import { type GraphStructureView, type NodeDetailsParts, nodeDetails } from "../engine/run/views";
import { decryptSecret, secretsKeyFrom } from "../engine/secrets";
import { isoNaive } from "../engine/time";
import { ReportBatch } from "./report-batch";
import { ShardCancels } from "./run-cancel";
import { addCosts, CostBook, noCosts, type RunCosts } from "./run-costs";
import { runGraphView } from "./run-graph-view";
import { type RunMeta, readRunMeta, runMetaOf, writeRunMeta } from "./run-meta";
import { countNodes, type NodeCountsHost, runNodesView } from "./run-node-counts";
import { FIRST_DELIVERY_EPOCH, migrateRunSchema, nextDeliveryEpoch, runSchemaExists } from "./run-schema";
import { type RunPeer, ShardLink } from "./run-shards";
import { SqlRunStore } from "./run-sql-store";

export const LEASE_EXPIRED = "lease expired";

export class RunActor extends DurableObject<Env> implements RunRuntimeRpc, RunPeer {
  // Set by `open`; every method below reads them only once `meta` (a started run) exists.
  private store!: SqlRunStore;
  private meta: RunMeta | null = null;
  private engine: RunEngine | null = null;
  private dispatcher!: Dispatcher;
  private link!: ShardLink;
  private shardCancels!: ShardCancels;
  private costBook!: CostBook;
  private reports!: ReportBatch;
  private opened = false;
  private reportRpcs = 0;
  private claimRpcs = 0;
  /** A commit wrote to the shard protocol's outboxes that `afterCommit` has not sent yet. */
  private linkDue = false;
  /** A commit made states ready that `afterCommit` has not dispatched yet. */
  private dispatchDue = false;
  private inputsByReference = 0;
  private pickupRpcs = 0;
  /** This instance's delivery epoch (one more than the last instance's) and when it started. */
  private epoch = 0;
  private openedAt = 0;
  /** Deliveries of earlier epochs that a consumer confirmed since this instance started: not lost. */
  private confirmed = new Set<number>();
  /** No delivery of an earlier instance is left to send again (see lostDeliveries). */
  private staleSettled = false;
  /** When a report or a shard's settle last changed this run (or this instance started). */
  private lastProgressAt = 0;
  private waitingCache: { at: number; nodes: WaitingNode[] } | null = null;
  /** The alarm time as last written (null: none armed), so most transitions need no alarm write. */
  private alarmAt: number | null = null;
  /**
   * Until when the namespace actor's start record covers this run (see `start`): an alarm asked for this
   * time or later is not written, since the namespace actor calls `start` again by then. Null: not covered.
   */
  private coverUntil: number | null = null;
  private alarmWrite: Promise<void> = Promise.resolve();
  /** Requests waiting for the run to end (`awaitEnd`), answered by the transaction that ends it. */
  private endWaiters = new Set<{
    resolve: (status: RunStatus) => void;
    timer: ReturnType<typeof setTimeout>;
  }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
      // An id nobody started (a mistyped or forged state id) gets no schema and no storage at all.
      if (runSchemaExists(ctx.storage.sql)) this.open();
    });
  }

  /**
   * A branch shard's start, on the first batch or cancel that reaches it: writes the run's meta and loads
   * the store and engine of shard `meta.shard`. Nothing happens once the shard has its meta.
   */
  private startShard(meta: RunMeta): void {
    if (this.meta) return;
    if (!this.opened) this.open();
    this.transact(() => writeRunMeta(this.ctx.storage.sql, meta));
    // Loaded again in the same instance: its delivery epoch stays the first. Counted as a new instance,
    // the shard would take its own first deliveries for an earlier instance's and read for them.
    this.open(true);
  }

  /**
   * Creates (or upgrades) the schema and loads the run. Called for a started run, by `start`, or again by
   * `startShard` in the same instance (`sameInstance`: it keeps its delivery epoch).
   */
  private open(sameInstance = false): void {
    const { ctx, env } = this;
    // A new actor's storage holds its schema and first delivery epoch, nothing to read back.
    const created = migrateRunSchema(ctx.storage.sql) === "created";
    this.opened = true;
    this.meta = created ? null : readRunMeta(ctx.storage.sql);
    this.engine = null;
    this.store = new SqlRunStore(ctx.storage.sql, this.meta?.shard ?? 0, created);
    this.costBook = new CostBook(ctx.storage.sql, created);
    this.reportRpcs = 0;
    this.claimRpcs = 0;
    this.inputsByReference = 0;
    this.pickupRpcs = 0;
    if (!sameInstance) {
      this.epoch = created ? FIRST_DELIVERY_EPOCH : nextDeliveryEpoch(ctx.storage.sql);
      this.openedAt = Date.now();
      this.confirmed = new Set();
      this.staleSettled = false;
    }
    this.lastProgressAt = Date.now();
    this.link = new ShardLink({
      store: this.store,
      meta: () => this.meta,
      engine: () => this.runEngine(),
      peer: (name) => this.env.RUN.getByName(name),
      transact: (fn) => this.transact(fn),
      dispatch: () => this.dispatcher.flush(),
    });
    this.shardCancels = new ShardCancels({
      sql: ctx.storage.sql,
      meta: () => this.meta,
      peer: (name) => this.env.RUN.getByName(name),
      transact: (fn) => this.transact(fn),
      retryAt: (at) => this.scheduleAlarm(at),
    });
    // Concurrent report RPCs share a transaction and a dispatch pass (report-batch.ts).
    this.reports = new ReportBatch({
      applyAll: (calls) =>
        this.transact(() => {
          const now = Date.now();
          return calls.map((c) => this.runEngine().apply(c.reports, now, c.namespace));
        }),
      afterCommit: () => this.afterCommit(),
    });
    this.dispatcher = new Dispatcher({
      env,
      store: this.store,
      runKey: () => this.meta?.run_key ?? null,
      actorName: () => (this.meta ? actorName(this.meta.run_key, this.meta.shard) : null),
      graph: () => (this.meta ? this.runEngine().graph : null),
      claim: (states, now, leaseExpires, delivery) =>
        this.runEngine().claim(states, now, leaseExpires, delivery),
      deliveryEpoch: () => this.epoch,
      lostDeliveries: (now, limit) => this.lostDeliveries(now, limit),
      transact: (fn) => this.transact(fn),
      scheduleAlarm: (at) => {
        this.scheduleAlarm(at);
        return this.alarmWrite;
      },
    });
  }

  /**
   * Starts the run. Idempotent: a repeated start of the same run changes nothing but the cover.
   *
   * `coverUntil` is when the namespace actor, which keeps the run's start record until then, calls `start`
   * again. Until that call this instance writes no alarm for that time or later: most runs finish long
   * before it and never write one (namespace-starts.ts). The call after it is the repair: from then on the
   * actor's own alarm is armed for whatever its storage still needs, whichever instance made the first start.
   */
  async start(bootstrap: RunBootstrap, coverUntil?: number): Promise<void> {
    if (this.meta) {
      await this.uncover();
      return;
    }
    if (!this.opened) this.open();
    const now = Date.now();
    this.coverUntil = coverUntil !== undefined && coverUntil > now ? coverUntil : null;
    try {
      this.transact(() => {
        const meta = writeRunMeta(this.ctx.storage.sql, runMetaOf(bootstrap, configOf(this.env).shards));
        for (const [key, value] of Object.entries(bootstrap.store)) {
          this.ctx.storage.sql.exec("INSERT INTO store (key, value) VALUES (?, ?)", key, value);
        }
        this.meta = meta;
        this.engine = null;
        this.runEngine().start(bootstrap.root_inputs, bootstrap.start_delay, now);
      });
    } catch (e) {
      // The transaction rolled back: the actor must not look started.
      this.meta = null;
      this.engine = null;
      this.coverUntil = null;
      throw e;
    }
    await this.dispatcher.flush();
  }

  /** The end of the cover: arms the alarm for what the run's storage needs (nothing, for a finished run). */
  private async uncover(): Promise<void> {
    this.coverUntil = null;
    await Promise.all([this.dispatcher.flush(), this.shardCancels.send()]);
  }

  /**
   * A consumer confirms the deliveries it holds (at pickup, then every few seconds while it executes
   * them). Answers the seqs it should still run; reads only, so a heartbeat costs no write.
   */
  async pickup(deliveries: Delivery[]): Promise<number[]> {
    this.pickupRpcs += 1;
    if (!this.meta) return [];
    const rows = this.store.deliveriesOf(deliveries.map((x) => x.seq));
    const live: number[] = [];
    const eager: number[] = [];
    for (const { seq, d } of deliveries) {
      const row = rows.get(seq);
      if (row?.status !== "QUEUED" && row?.status !== "EXECUTED") continue;
      if (d !== undefined && row.delivery !== null && d !== row.delivery) continue; // sent again since
      live.push(seq);
      if (row.delivery !== null && row.delivery > 0 && row.delivery < this.epoch) this.confirmed.add(seq);
      if (row.delivery !== null && row.delivery < 0 && row.status === "QUEUED") eager.push(seq);
    }
    // An eager delivery has no queue behind it: its short lease lives as long as the consumer says so.
    if (eager.length > 0) this.transact(() => this.store.renewLeases(eager, Date.now() + EAGER_LEASE_MS));
    return live;
  }

  /**
   * Deliveries an earlier instance of this actor sent that no consumer confirmed within one delivery
   * lease of this instance's start: the restart lost them (dispatcher.ts sends them again).
   */
  private lostDeliveries(now: number, limit: number): number[] {
    // Nothing an earlier instance sent is left to look for: none existed (the first instance), or a scan
    // found every one of them sent again, finished or confirmed. New deliveries all carry this epoch, so
    // none can appear; scanning again would read every leased state of the run to find nothing.
    if (this.staleSettled || this.epoch <= 1) return [];
    if (now < this.openedAt + configOf(this.env).deliveryLeaseMs) return [];
    const want = limit + this.confirmed.size;
    const stale = this.store.staleDeliveries(this.epoch, want);
    const lost = stale.filter((seq) => !this.confirmed.has(seq)).slice(0, limit);
    if (stale.length < want && lost.length === 0) this.staleSettled = true;
    return lost;
  }

  /**
   * Applies a batch of reports like `report`, and in the same transaction claims up to `ask.max` ready
   * states of the nodes the consumer serves, leased to it for EAGER_LEASE_MS (renewed by its pickups):
   * the consumer runs them before it returns, so the next hop of a run needs no queue message (design §6).
   * The rest goes through the queue as usual.
   */
  async reportAndTake(reports: Report[], ask: EagerAsk): Promise<ReportAnswer> {
    this.reportRpcs += 1;
    if (!this.meta) {
      return { outcomes: reports.map(() => ({ applied: false, reason: "not_found" }) as const), eager: [] };
    }
    const now = Date.now();
    const max = configOf(this.env).eager ? Math.min(Math.max(0, ask.max), EAGER_MAX_PER_REPORT) : 0;
    const { outcomes, taken } = this.transact(() => {
      const outcomes = this.runEngine().apply(reports, now);
      return { outcomes, taken: max > 0 ? this.takeEager(ask, max, now) : [] };
    });
    if (outcomes.some((o) => o.applied)) this.lastProgressAt = now;
    await this.afterCommit();
    return { outcomes, eager: this.dispatcher.describe(taken, -this.epoch) };
  }

  /** Claims up to `max` due ready push states of the asking consumer's nodes. Inside a transaction. */
  private takeEager(ask: EagerAsk, max: number, now: number): StateRow[] {
    const served = new Set(ask.nodes.map((n) => `${n.ns}\u0000${n.node}`));
    const graph = this.runEngine().graph;
    // Concurrency limits (run control) hold for eager hand-outs too: only states holding a slot are ready.
    for (const [identifier, limit] of graph.concurrencyLimits) this.store.balanceSlots(identifier, limit);
    // Only a narrow hop runs eagerly: when more is ready than one answer may carry, the whole lot goes
    // through the queue, which spreads a wide fan-out over many consumer invocations at once.
    const candidates = this.store.eagerCandidates(now, max + 1);
    if (candidates.length > max) return [];
    const picked = candidates.filter(
      (s) =>
        served.has(`${s.namespace}\u0000${s.node_name}`) &&
        graph.info(graph.node(s.identifier))?.transport !== "pull",
    );
    return this.runEngine().claim(
      picked.map((s) => s.seq),
      now,
      now + EAGER_LEASE_MS,
      -this.epoch,
    );
  }

  /**
   * Applies a batch of runtime reports in one transaction; answers one outcome per report. Report RPCs
   * that arrive while another commits are applied together with it (report-batch.ts).
   */
  async report(reports: Report[], namespace?: string): Promise<ReportOutcome[]> {
    this.reportRpcs += 1;
    if (!this.meta) return reports.map(() => ({ applied: false, reason: "not_found" }) as const);
    const outcomes = await this.reports.submit({ reports, namespace });
    if (outcomes.some((o) => o.applied)) this.lastProgressAt = Date.now();
    return outcomes;
  }

  /**
   * Writes a batch of branches the run actor hands to this shard (design §6), starting the shard with the
   * run's meta on its first batch. A batch id seen before changes nothing.
   */
  async adopt(meta: RunMeta, id: number, body: string): Promise<void> {
    // The run actor's own text: JSON.stringify of a batch it built, or one it checked when it read the
    // batch back from its outbox after a restart (run-sql-outboxes.ts). Parsed once, here.
    const batch = JSON.parse(body) as SpawnBatch;
    this.startShard(meta);
    this.transact(() => {
      if (this.store.adoptOnce(id)) this.runEngine().adopt(batch, Date.now());
    });
    await this.afterCommit();
  }

  /**
   * Applies a shard's settle deltas `first..last` (in order, once) to the run's counts and barriers;
   * answers the last id applied from that shard, so the shard can drop what is confirmed.
   */
  async settle(from: number, first: number, last: number, delta: SettleDelta): Promise<number> {
    if (!this.meta) throw new Error("run not started");
    const applied = this.transact(() => {
      const done = this.store.settledFrom(from);
      if (first <= done) return done; // a range sent again: answer how far it went, change nothing
      this.runEngine().applySettle(delta, Date.now());
      this.store.setSettledFrom(from, last);
      return last;
    });
    this.lastProgressAt = Date.now();
    await this.afterCommit();
    return applied;
  }

  /** One page of a unite's gather: `field` of SUCCESS states of `identifier` under `prefix`, in order. */
  async subtreePage(
    identifier: string,
    prefix: string,
    field: string,
    after: SubtreePosition | null,
    limit: number,
  ): Promise<SubtreePage> {
    if (!this.meta) return { seqs: [], indexes: [], lineages: [], values: [] };
    return this.store.subtreePage(identifier, prefix, field, after, limit);
  }

  /**
   * Claims ready states for a pull runtime (CREATED → QUEUED) with a lease; states that moved on
   * (claimed by someone else, requeued for later, finished) are left out.
   */
  async claimPulled(seqs: number[]): Promise<PulledState[]> {
    const meta = this.meta;
    if (!meta) return [];
    this.claimRpcs += 1;
    const now = Date.now();
    const pullLeaseMs = configOf(this.env).pullLeaseMs;
    let firstLease = Number.POSITIVE_INFINITY;
    const claimed = this.transact(() => {
      const engine = this.runEngine();
      const due: StateRow[] = [];
      const early: number[] = [];
      // One statement reads the poll's states (a poll claims up to a batch of them).
      this.store.prefetch(seqs);
      for (const seq of seqs) {
        const state = this.store.getState(seq);
        if (state === undefined) continue;
        if (state.enqueue_after <= now) due.push(state);
        else if (state.status === "CREATED") early.push(seq);
      }
      // Handed out before it was due (the ready queue's clock ran ahead): its ref is acked by the
      // route, so it must be offered again when due rather than wait for a ref that no longer exists.
      this.store.markOffered(early, false);
      // The lease is the node's timeout_seconds when it has one (run control): its expiry is the timeout.
      const byLease = new Map<number, StateRow[]>();
      for (const state of due) {
        const lease = now + engine.graph.executionLeaseMs(state.identifier, pullLeaseMs);
        byLease.set(lease, [...(byLease.get(lease) ?? []), state]);
        firstLease = Math.min(firstLease, lease);
      }
      return [...byLease]
        .flatMap(([lease, states]) => engine.claim(states, now, lease))
        .map((state) => ({
          state_id: stateIdOf(meta.run_key, state.seq),
          node_name: state.node_name,
          identifier: state.identifier,
          inputs: state.inputs,
          created_at: isoNaive(state.created_at),
        }));
    });
    // The lease must be able to expire even if nothing else is scheduled on this run.
    await this.afterCommit();
    if (claimed.length > 0) {
      this.scheduleAlarm(firstLease);
      await this.alarmWrite;
    }
    return claimed;
  }

  /**
   * Manual retry of one state (spec §2.14 with our status rule); answers the new state's id. With
   * `namespace`, a state of another namespace is not found (Exosphere checks it for this route).
   */
  async manualRetry(seq: number, fanoutId: string, namespace?: string): Promise<Result<{ id: string }>> {
    const meta = this.meta;
    if (!meta) return failed(new NotFoundError("State not found"));
    if (namespace !== undefined && this.store.getState(seq)?.namespace !== namespace) {
      return failed(new NotFoundError("State not found"));
    }
    const result = await toResult(() =>
      this.transact(() => this.runEngine().manualRetry(seq, fanoutId, Date.now())),
    );
    if (!result.ok) return result;
    await this.afterCommit();
    return ok({ id: stateIdOf(meta.run_key, result.value.seq) });
  }

  /**
   * Cancels the run (run control): its states and its shards' states that are CREATED, QUEUED or
   * EXECUTED become CANCELLED. Idempotent; a finished run is refused (409), an unknown one is not found.
   */
  async cancel(runId: string, namespace: string): Promise<Result<{ run_id: string; status: "CANCELLED" }>> {
    const meta = this.meta;
    // The actor is named by the id's first 16 hex digits: it is this run only if the whole id matches.
    if (meta?.shard !== 0 || meta.run_id !== runId || meta.namespace !== namespace) {
      return failed(new NotFoundError(`Run ${runId} not found`));
    }
    const result = await toResult(() => {
      const told = this.transact(() => {
        if (this.store.isCancelled()) return false;
        const status = this.status();
        if (status !== "PENDING") throw new ConflictError(`Run is already finished (${status})`);
        this.runEngine().cancel(Date.now());
        // Every shard of the plan is told, durably: the alarm tells again those that did not confirm.
        if (!this.store.usesShards()) return false;
        this.shardCancels.record(meta.shards.count);
        return true;
      });
      // Armed in the commit's turn: a crash before the shards are told still leaves an alarm to tell them.
      if (told) this.scheduleAlarm(Date.now() + RESEND_AFTER_MS);
    });
    if (!result.ok) return result;
    await Promise.all([this.shardCancels.send(), this.afterCommit()]);
    return ok({ run_id: meta.run_id, status: "CANCELLED" });
  }

  /** A branch shard's part of a cancel: started with the run's meta if no batch reached it yet. */
  async cancelShard(meta: RunMeta): Promise<void> {
    this.startShard(meta);
    this.transact(() => this.runEngine().cancel(Date.now()));
    await this.afterCommit();
  }

  /** Treats every expired lease as an errored report ("lease expired"), through the retry policy. */
  async expireLeases(now: number = Date.now()): Promise<number> {
    if (!this.meta) return 0;
    const expired = this.transact(() => {
      const expired = this.store.expiredLeases(now, MAX_LEASE_EXPIRIES_PER_ALARM);
      if (expired.length === 0) return 0;
      // `now` only decides which leases count as expired; the transition happens at the real time, so a
      // retry's backoff is measured from the moment the expiry is handled. An eager delivery whose
      // consumer stopped confirming it was lost with that consumer, not failed by its node: it goes back
      // to be sent through the queue (never eagerly again), with no attempt spent. A pull claim of a node
      // with timeout_seconds expires as a timeout (run control).
      const engine = this.runEngine();
      const errorOf = (seq: number): string => {
        const state = this.store.getState(seq);
        if (!state) return LEASE_EXPIRED;
        const node = engine.graph.node(state.identifier);
        return leaseExpiryError(node, engine.graph.info(node)?.transport, LEASE_EXPIRED);
      };
      const outcomes = engine.apply(
        expired.map(
          ({ seq, eager }): Report =>
            eager ? { type: "requeue", seq, delayMs: 0 } : { type: "errored", seq, error: errorOf(seq) },
        ),
        Date.now(),
      );
      return outcomes.filter((o) => o.applied).length;
    });
    // Retries the expiry created are dispatched now, whoever called (the alarm or an operator RPC).
    if (expired > 0) await this.afterCommit();
    return expired;
  }

  /** Inputs of states whose messages carried them by reference. */
  async inputsOf(seqs: number[]): Promise<Record<number, Record<string, string>>> {
    const out: Record<number, Record<string, string>> = {};
    if (!this.meta) return out;
    this.inputsByReference += seqs.length;
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (state) out[seq] = state.inputs;
    }
    return out;
  }

  /**
   * Decrypted secrets for states about to execute: for each state, exactly the secrets its node declared
   * (design §4, FIX), never the whole graph's. With `namespace`, states of other namespaces are left out.
   */
  async secretsOf(seqs: number[], namespace?: string): Promise<Record<number, Record<string, string>>> {
    const meta = this.meta;
    if (!meta) return {};
    // Asked for only when a declared secret is there to decrypt: without a configured key, states that
    // need no secret still get their empty map.
    let key: string | undefined;
    const graph = this.runEngine().graph;
    const out: Record<number, Record<string, string>> = {};
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (!state || (namespace !== undefined && state.namespace !== namespace)) continue;
      const declared = graph.info(graph.node(state.identifier))?.secrets ?? [];
      const secrets: Record<string, string> = {};
      for (const name of declared) {
        const ciphertext = meta.template.secrets[name];
        if (ciphertext === undefined) continue;
        key ??= await secretsKeyFrom(configOf(this.env).secretsEncryptionKey);
        secrets[name] = await decryptSecret(key, ciphertext);
      }
      out[seq] = secrets;
    }
    return out;
  }

  /**
   * The run's status once it has ended (SUCCESS, FAILED, CANCELLED), or PENDING when `ms` passed first;
   * null for a run that does not exist. A trigger with `wait_ms` answers with it (our extension).
   */
  async awaitEnd(ms: number): Promise<RunStatus | null> {
    if (!this.meta) return null;
    const now = this.status();
    if (now !== "PENDING" || ms <= 0) return now;
    return new Promise((resolve) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          this.endWaiters.delete(waiter);
          resolve(this.meta ? this.status() : "PENDING");
        }, ms),
      };
      this.endWaiters.add(waiter);
    });
  }

  /** After a transaction: answers the requests waiting for the run to end, if it has. */
  private answerEndWaiters(): void {
    if (this.endWaiters.size === 0 || !this.meta) return;
    const status = this.status();
    if (status === "PENDING") return;
    for (const waiter of this.endWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(status);
    }
    this.endWaiters.clear();
  }

  /** The run's status from its counts and run control (cancelled, tolerated failures). */
  private status(counts = runCounts(this.store.counts())): RunStatus {
    return runStatus(counts, { cancelled: this.store.isCancelled(), tolerated: this.store.tolerated() });
  }

  async summary(): Promise<RunSummary | null> {
    if (!this.meta) return null;
    const counts = runCounts(this.store.counts());
    const status = this.status(counts);
    const stalled = status === "PENDING" && Date.now() - this.lastProgressAt >= STALL_NOTICE_MS;
    const waiting = stalled ? await this.waitingNodes() : [];
    return {
      run_id: this.meta.run_id,
      graph_name: this.meta.graph_name,
      ...counts,
      status,
      created_at: this.meta.created_at,
      ...(this.meta.warnings ? { warnings: this.meta.warnings } : {}),
      ...(waiting.length > 0 ? { waiting } : {}),
    };
  }

  /**
   * The nodes whose due states wait in this actor (CREATED or QUEUED), with its shards' on a run actor.
   * Asked only of a run that stopped moving; cached a few seconds, since a waiting run is polled.
   */
  async waitingNodes(): Promise<WaitingNode[]> {
    const meta = this.meta;
    if (!meta) return [];
    const now = Date.now();
    if (this.waitingCache && now - this.waitingCache.at < 5_000) return this.waitingCache.nodes;
    const parts = [this.store.waitingNodes(now, MAX_WAITING_NODES)];
    if (meta.shard === 0 && this.store.usesShards()) {
      parts.push(
        ...(await Promise.all(
          Array.from({ length: meta.shards.count }, (_, i) =>
            this.env.RUN.getByName(actorName(meta.run_key, i + 1)).waitingNodes(),
          ),
        )),
      );
    }
    const byNode = new Map<string, WaitingNode>();
    for (const node of parts.flat()) {
      const key = `${node.identifier}\u0000${node.namespace}\u0000${node.node_name}`;
      const seen = byNode.get(key);
      if (!seen) byNode.set(key, { ...node });
      else {
        seen.states += node.states;
        if (node.since < seen.since) seen.since = node.since;
      }
    }
    const nodes = [...byNode.values()]
      .sort((a, b) => a.since.localeCompare(b.since))
      .slice(0, MAX_WAITING_NODES);
    this.waitingCache = { at: now, nodes };
    return nodes;
  }

  /**
   * The run-graph view of the states that live in `namespace` (spec §2.17): at most `limit` of them, those
   * after state `afterSeq` in seq order, only those of node `identifier` when given (run-graph-view.ts).
   */
  async graphView(
    namespace: string,
    afterSeq = 0,
    limit = MAX_GRAPH_PAGE_STATES,
    identifier: string | null = null,
  ): Promise<GraphStructureView> {
    return runGraphView(
      {
        sql: this.ctx.storage.sql,
        meta: this.meta,
        shardsUsed: this.meta !== null && this.store.usesShards(),
        peer: (name) => this.env.RUN.getByName(name),
      },
      { namespace, afterSeq, limit, identifier },
    );
  }

  /** One state's details, if it belongs to this run, graph and namespace (spec §2.18). */
  async stateDetails(seq: number, graphName: string, namespace: string): Promise<NodeDetailsParts | null> {
    const meta = this.meta;
    if (!meta) return null;
    const state = this.store.getState(seq);
    if (!state || meta.graph_name !== graphName || state.namespace !== namespace) return null;
    // The inputs as stored (a clone's are its head's; a clone in a shard has its head in the run actor).
    const inputs =
      shardOfSeq(state.exec_seq) === meta.shard
        ? this.store.inputsText(state.exec_seq)
        : await this.env.RUN.getByName(meta.run_key).inputsText(state.exec_seq);
    return nodeDetails(meta.run_key, meta.run_id, meta.graph_name, state, inputs);
  }

  /** The inputs stored with state `execSeq`, as JSON text in parts (see SqlRows.inputsText). */
  async inputsText(execSeq: number): Promise<string[]> {
    return this.meta ? this.store.inputsText(execSeq) : ["{}"];
  }

  /** Per node, this actor's states by status; on a run actor, its shards' added (run-node-counts.ts). */
  async nodeCounts(): Promise<NodeCounts> {
    return countNodes(this.nodeCountsHost());
  }

  /** The live run view (summary + per-node counts), or null when this is no run of `namespace`. */
  async nodesView(namespace: string): Promise<RunNodesView | null> {
    const summary = await this.summary();
    return summary ? runNodesView(this.nodeCountsHost(), namespace, summary) : null;
  }

  private nodeCountsHost(): NodeCountsHost {
    return {
      actor: this,
      sql: this.ctx.storage.sql,
      meta: this.meta,
      shardsUsed: this.opened && this.store.usesShards(),
      peer: (name) => this.env.RUN.getByName(name),
    };
  }

  /** This actor's cost counters, with its shards' added up when it is a run actor that used them. */
  async costs(): Promise<RunCosts> {
    let own = this.opened ? this.costBook.total(this.liveCosts()) : noCosts();
    const meta = this.meta;
    if (meta?.shard !== 0 || !this.store.usesShards()) return own;
    const shards = await Promise.all(
      Array.from({ length: meta.shards.count }, (_, i) =>
        this.env.RUN.getByName(actorName(meta.run_key, i + 1)).costs(),
      ),
    );
    for (const shard of shards) own = addCosts(own, shard);
    return own;
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null; // a running alarm is no longer armed
    try {
      await this.expireLeases();
    } catch (e) {
      // Dispatch must go on even if expiring leases failed; the next alarm tries the expiry again.
      console.error("expiring leases failed", e instanceof Error ? e.message : e);
    }
    if (this.meta) {
      await Promise.all([
        this.dispatcher.flush(),
        this.link.send(),
        this.link.gatherAll(),
        this.shardCancels.send(),
      ]);
    }
  }

  /** What this instance counted since it opened the run (the cost book adds what was saved before). */
  private liveCosts(): RunCosts {
    return {
      reportRpcs: this.reportRpcs,
      reportCommits: this.reports.cost.reportCommits,
      claimRpcs: this.claimRpcs,
      inputsByReference: this.inputsByReference,
      pickupRpcs: this.pickupRpcs,
      rowsWritten: this.store.cost.rowsWritten,
      ...this.dispatcher.cost,
      ...this.link.cost,
    };
  }

  /**
   * After a commit: dispatch what became ready, and send batches to shards or deltas to the run actor.
   * A commit that made nothing ready (most reports of a fan-out's branches) needs no dispatch pass: what
   * earlier commits made ready went out after them, or goes out from the alarm that they armed.
   */
  private async afterCommit(): Promise<void> {
    const link = this.linkDue ? this.link.send() : Promise.resolve();
    // A state that ended may free a slot of a concurrency-limited node: the dispatch pass releases the
    // parked states (run control), even though nothing new became ready.
    const limited = this.meta !== null && this.runEngine().graph.concurrencyLimits.size > 0;
    const dispatch = this.dispatchDue || limited ? this.dispatcher.flush() : Promise.resolve();
    this.linkDue = false;
    this.dispatchDue = false;
    await Promise.all([dispatch, link]);
  }

  private runEngine(): RunEngine {
    const meta = this.meta;
    if (!meta) throw new Error("run not started");
    this.engine ??= new RunEngine(this.store, new GraphIndex(meta.template), {
      runKey: meta.run_key,
      namespace: meta.namespace,
      graphName: meta.graph_name,
      retryPolicy: meta.template.retry_policy,
      newFanoutId: () => crypto.randomUUID(),
      shard: meta.shard,
      shards: meta.shards,
      // A wide fan-out's push branches are born claimed in this instance's delivery epoch (dispatcher.ts
      // sends them after the commit), with the lease a dispatch round would give them.
      claimAtBirth: (identifier) => ({
        leaseExpires:
          Date.now() +
          configOf(this.env).pushLeaseMs +
          this.runEngine().graph.executionLeaseMs(identifier, 0),
        delivery: this.epoch,
      }),
    });
    return this.engine;
  }

  /** Runs `fn` in one storage transaction, with the engine's counters written in the same one. */
  private transact<T>(fn: () => T): T {
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(() => {
        const written = this.store.cost.rowsWritten;
        // State rows written in this transaction go out in multi-row statements (run-state-writes.ts).
        this.store.bufferWrites();
        const value = fn();
        this.store.flush();
        // The cost counters ride on a transaction that writes rows. One that wrote none (a dispatch round
        // that found nothing to send) stays read-only and commits nothing; the next one saves them.
        if (this.store.cost.rowsWritten !== written) this.costBook.save(this.liveCosts());
        return value;
      });
    } catch (e) {
      this.store.discard();
      throw e;
    }
    // Requested in the same turn as the commit, so the ready states and the alarm that guarantees their
    // dispatch become durable together: a crash before the send still leaves an alarm to send them.
    const linkTouched = this.store.takeLinkTouched();
    if (linkTouched) this.linkDue = true;
    // Requested in the same turn as the commit, so that what it made ready or wrote to an outbox and the
    // alarm that guarantees it goes out become durable together.
    const readyTouched = this.store.takeReadyTouched();
    if (readyTouched) this.dispatchDue = true;
    if (readyTouched || linkTouched) this.scheduleAlarm(Date.now() + DISPATCH_SAFETY_MS);
    // A unite waiting for its gather: the alarm runs it at once, in an event of its own.
    if (this.store.takeGatherTouched()) this.scheduleAlarm(Date.now());
    // Their answers leave once the commit is durable (the output gate holds them until then).
    this.answerEndWaiters();
    return result;
  }

  /** Moves the alarm earlier when `at` is earlier than the one armed (one alarm serves every timer). */
  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    // Covered: the namespace actor's repair call (`start`) comes by then and arms what is still needed.
    if (this.coverUntil !== null && at >= this.coverUntil) return;
    this.alarmAt = at;
    this.alarmWrite = this.ctx.storage.setAlarm(at).catch((e) => {
      this.alarmAt = null; // not armed after all: the next transition asks again
      throw e;
    });
  }
}
