// The run engine's shared state and bookkeeping (design §4): seqs, new states, status changes with their
// counts and barrier adjustments, placeholder resolution, and the per-call caches. The layers above it,
// one concern per file, add the transitions: unites.ts (firing barriers, gathered inputs), fan-out.ts
// (executed reports in pages, branches handed to shards), shard-side.ts (what a shard receives and the
// run actor applies), engine.ts (the RunEngine the actors call).
import { shardOfSeq } from "../ids";
import { MAX_ERROR_CHARS } from "../limits";
import type { RetryPolicy, StateStatus } from "../model";
import { retryDelayMs } from "../retry";
import type { PlaceholderRef } from "../template/placeholders";
import { BarrierBook } from "./barriers";
import { FAILED, TERMINAL } from "./counts";
import type { GraphIndex } from "./graph-index";
import { outputString, RenderError, type Resolve } from "./render";
import type { Barrier, ParentLink, ReportOutcome, RunStore, ShardPlan, StatePatch, StateRow } from "./types";

export interface EngineEnv {
  runKey: string;
  namespace: string;
  graphName: string;
  retryPolicy: RetryPolicy;
  newFanoutId: () => string;
  random?: () => number;
  /** The actor this engine runs in: 0 for the run actor (the default), s for branch shard s. */
  shard?: number;
  /** Where the run actor hands wide fan-outs' branches (no shards when absent). */
  shards?: ShardPlan;
  /**
   * The push claim a wide fan-out's branch of node `identifier` is born with (its execution lease and
   * delivery), so that it is written once and sent without a claim write of its own; absent where the
   * store cannot send what it claims (the engine's own tests), null to create it CREATED as usual.
   */
  claimAtBirth?: (identifier: string) => { leaseExpires: number; delivery: number } | null;
}

export const clip = (error: string) =>
  error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}… (cut)` : error;

export abstract class EngineCore {
  // Per-call caches; cleared by `begin`.
  protected readonly barriers: BarrierBook;
  /** Ancestors' outputs read during one call: a wide fan-out's children share the same few ancestors. */
  protected readonly ancestorOutputs = new Map<number, Record<string, unknown>>();
  protected now = 0;

  constructor(
    protected readonly store: RunStore,
    readonly graph: GraphIndex,
    protected readonly env: EngineEnv,
  ) {
    this.barriers = new BarrierBook(store, graph, env.shard ?? 0);
  }

  /** Fires one due barrier (unites.ts). */
  protected abstract fire(barrier: Barrier): void;

  /** The next seq of this actor; every actor allocates in its own range (see ids.ts). */
  protected nextSeq(): number {
    const seq = this.store.nextSeq();
    if (shardOfSeq(seq) !== (this.env.shard ?? 0)) throw new Error("run has reached its limit of states");
    return seq;
  }

  protected errored(state: StateRow, error: string): ReportOutcome {
    const policy = this.env.retryPolicy;
    if (state.retry_count < policy.max_retries) {
      const retryCount = state.retry_count + 1;
      const due = this.now + retryDelayMs(policy, retryCount, this.env.random);
      const seq = this.nextSeq();
      // The retry takes the failed attempt's place: same inputs, parents and lineage, so a unite
      // counts it in the same barriers, and it is inserted before the attempt ends so no barrier
      // can see zero pending in between.
      this.insert({
        ...this.newState({ ...state, seq, enqueue_after: due }),
        retry_count: retryCount,
        fanout_id: state.fanout_id,
        does_unites: state.does_unites,
      });
      this.setStatus(state, "RETRY_CREATED", { error });
      return { applied: true, status: "RETRY_CREATED", retryCreated: true, enqueueAfter: due };
    }
    this.setStatus(state, "ERRORED", { error });
    return { applied: true, status: "ERRORED", retryCreated: false, enqueueAfter: state.enqueue_after };
  }

  /** Resolves placeholders for a child of `spawner` (spec §4.2 value sources). */
  protected resolverFor(spawner: StateRow, target: string): Resolve {
    return (ref: PlaceholderRef) => {
      if (ref.kind === "store") return this.storeValue(ref.key);
      if (ref.identifier === spawner.identifier) {
        return outputString(spawner.outputs, ref.field, ref.identifier, target);
      }
      return this.ancestorOutput(spawner.parents, ref.identifier, ref.field, target);
    };
  }

  protected ancestorOutput(parents: ParentLink[], identifier: string, field: string, target: string): string {
    const link = parents.find(([id]) => id === identifier);
    if (!link)
      throw new RenderError(`Identifier '${identifier}' not found in parents for template '${target}'`);
    let outputs = this.ancestorOutputs.get(link[1]);
    if (outputs === undefined) {
      outputs = this.store.outputsOf(link[1]);
      if (!outputs) throw new RenderError(`State of '${identifier}' not found for template '${target}'`);
      this.ancestorOutputs.set(link[1], outputs);
    }
    return outputString(outputs, field, identifier, target);
  }

  protected storeValue(key: string): string {
    const value = this.store.storeValue(key) ?? this.graph.snapshot.store_config.default_values[key];
    if (value === undefined) {
      throw new RenderError(
        `Store value not found for field '${key}' in namespace '${this.env.namespace}' and graph '${this.env.graphName}'`,
      );
    }
    return value;
  }

  protected countFailure(state: StateRow): void {
    this.barriers.adjust(this.barriers.failureKeysOf(state), 0, state.seq);
  }

  /** Fires every barrier that became due in this call; firing may make outer barriers due. */
  protected settleBarriers(): void {
    // A cancelled run fires no unite (run control).
    if (this.store.isCancelled()) return;
    for (let due = this.barriers.nextDue(); due; due = this.barriers.nextDue()) this.fire(due);
  }

  protected newState(
    s: Pick<
      StateRow,
      "seq" | "identifier" | "node_name" | "namespace" | "inputs" | "parents" | "lineage" | "enqueue_after"
    >,
  ): StateRow {
    return {
      seq: s.seq,
      identifier: s.identifier,
      node_name: s.node_name,
      namespace: s.namespace,
      inputs: s.inputs,
      parents: s.parents,
      lineage: s.lineage,
      enqueue_after: s.enqueue_after,
      status: "CREATED",
      outputs: {},
      error: null,
      data: {},
      exec_seq: s.seq,
      fanout_index: 0,
      retry_count: 0,
      fanout_id: this.env.newFanoutId(),
      manual_retry_fanout_id: "",
      does_unites: false,
      never_ran: false,
      reported_outputs: 0,
      created_at: this.now,
      updated_at: this.now,
    };
  }

  /** Inserts a new CREATED state, counts it pending in its barriers, and queues it for dispatch. */
  protected insert(state: StateRow): void {
    this.store.insertState(state);
    this.store.count(state.status, 1);
    this.barriers.adjust(this.barriers.keysOf(state), 1);
    this.store.ready(state.seq, state.enqueue_after);
  }

  /**
   * The claim a new state of a wide fan-out is born with (see EngineEnv.claimAtBirth): only for a push
   * node without a concurrency limit, due now, and only where the store can send it.
   */
  protected birthClaim(identifier: string, due: number): { leaseExpires: number; delivery: number } | null {
    if (!this.env.claimAtBirth || !this.store.insertClaimed || due > this.now) return null;
    if (!this.claimableAtBirth(identifier)) return null;
    return this.env.claimAtBirth(identifier);
  }

  /** Whether a state of `identifier` may be born claimed: a push node with no concurrency limit. */
  protected claimableAtBirth(identifier: string): boolean {
    if (this.graph.concurrencyLimits.has(identifier)) return false;
    return this.graph.info(this.graph.node(identifier))?.transport !== "pull";
  }

  /** Inserts a state born claimed (QUEUED, leased, tagged with its delivery); the caller sends it. */
  protected insertClaimed(state: StateRow, claim: { leaseExpires: number; delivery: number }): void {
    state.status = "QUEUED";
    this.store.insertClaimed?.(state, claim.leaseExpires, claim.delivery);
    this.store.count("QUEUED", 1);
    this.barriers.adjust(this.barriers.keysOf(state), 1);
  }

  protected setStatus(state: StateRow, status: StateStatus, patch: StatePatch = {}): void {
    const from = state.status;
    this.store.updateState(state.seq, { ...patch, status }, this.now);
    this.store.count(from, -1);
    this.store.count(status, 1);
    if (!TERMINAL.has(from) && TERMINAL.has(status)) {
      this.barriers.adjust(this.barriers.keysOf(state), -1);
      if (FAILED.has(status)) this.countFailure(state);
    }
    state.status = status;
  }

  protected begin(now: number): void {
    this.now = now;
    this.barriers.begin();
    this.ancestorOutputs.clear();
  }

  protected end(): void {
    this.barriers.end();
  }
}
