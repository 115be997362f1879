// The run engine: every transition of a run's states (design §4), against a RunStore. The run actor
// calls it inside one storage transaction per RPC; this module decides, the store only persists.
//
// Work per transition is O(1) in the run's size: barrier counters are adjusted incrementally, and only
// a unite that fires reads its subtree (once, to render array inputs).
import { ConflictError, NotFoundError } from "../errors";
import { stateIdOf } from "../ids";
import { exceedsBytes, MAX_ERROR_CHARS, MAX_STATE_VALUE_BYTES } from "../limits";
import type { RetryPolicy, StateStatus } from "../model";
import { retryDelayMs } from "../retry";
import type { PlaceholderRef } from "../template/placeholders";
import { BarrierBook } from "./barriers";
import { FAILED, TERMINAL } from "./counts";
import type { GraphIndex } from "./graph-index";
import { assertSeq, childLineage, MAX_FANOUT, subtreePrefix, uniteLineage } from "./lineage";
import { outputString, RenderError, type Resolve, renderInputs } from "./render";
import type { Barrier, ParentLink, Report, ReportOutcome, RunStore, StatePatch, StateRow } from "./types";

export interface EngineEnv {
  runKey: string;
  namespace: string;
  graphName: string;
  retryPolicy: RetryPolicy;
  newFanoutId: () => string;
  random?: () => number;
}

/** How the error of a unite state that never ran begins (its barrier failed, or its inputs did). */
const UNITE_NOT_CREATED = "Unite";
const clip = (error: string) =>
  error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}… (cut)` : error;
const MANUALLY_RETRYABLE: ReadonlySet<StateStatus> = new Set<StateStatus>([
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "PRUNED",
]);

export class RunEngine {
  // Per-call caches; cleared by `begin`.
  private readonly barriers: BarrierBook;
  /** Ancestors' outputs read during one call: a wide fan-out's children share the same few ancestors. */
  private readonly ancestorOutputs = new Map<number, Record<string, unknown>>();
  private now = 0;

  constructor(
    private readonly store: RunStore,
    readonly graph: GraphIndex,
    private readonly env: EngineEnv,
  ) {
    this.barriers = new BarrierBook(store, graph);
  }

  /** Creates the root state. MUST be called inside a transaction, once per run. */
  start(rootInputs: Record<string, string>, startDelayMs: number, now: number): StateRow {
    this.begin(now);
    const root = this.graph.root;
    const seq = assertSeq(this.store.nextSeq());
    const state = this.newState({
      seq,
      identifier: root.identifier,
      node_name: root.node_name,
      namespace: root.namespace,
      inputs: rootInputs,
      parents: [],
      lineage: "",
      enqueue_after: now + startDelayMs,
    });
    this.insert(state);
    this.end();
    return state;
  }

  /**
   * CREATED → QUEUED for the states being handed to a runtime, with the lease that ends the hand-out.
   * Takes seqs, or rows the caller just read in this transaction. Returns the states that moved.
   */
  claim(states: Iterable<number | StateRow>, now: number, leaseExpires: number | null = null): StateRow[] {
    this.begin(now);
    const claimed: StateRow[] = [];
    for (const s of states) {
      const state = typeof s === "number" ? this.store.getState(s) : s;
      if (state?.status !== "CREATED") continue;
      this.setStatus(state, "QUEUED", { lease_expires: leaseExpires });
      claimed.push(state);
    }
    this.end();
    return claimed;
  }

  /**
   * Applies a batch of runtime reports. MUST be called inside one transaction. With `namespace`, a
   * state of another namespace is treated as not found (FIX: Exosphere ignores the path's namespace).
   */
  apply(reports: Report[], now: number, namespace?: string): ReportOutcome[] {
    this.begin(now);
    const outcomes = reports.map((report) => this.applyOne(report, namespace));
    this.settleBarriers();
    this.end();
    return outcomes;
  }

  /**
   * Manual retry (spec §2.14) with our rule: only a state that ended without success of its own
   * (ERRORED, NEXT_CREATED_ERROR, PRUNED) may be retried, so finished work is never duplicated. The new
   * state runs with the original inputs and parents and a fresh retry budget; the original becomes
   * RETRY_CREATED. Throws NotFoundError / ConflictError.
   */
  manualRetry(seq: number, fanoutId: string, now: number): StateRow {
    this.begin(now);
    const state = this.store.getState(seq);
    if (!state) throw new NotFoundError("State not found");
    if (!MANUALLY_RETRYABLE.has(state.status)) {
      throw new ConflictError(
        `State is ${state.status}: only ERRORED, NEXT_CREATED_ERROR or PRUNED states can be retried manually`,
      );
    }
    if (state.does_unites && state.error?.startsWith(UNITE_NOT_CREATED)) {
      // It never ran: its barrier failed or its inputs could not be built. Retry the failed branches.
      throw new ConflictError(
        "A unite state that failed at its barrier cannot be retried; retry its failed branches",
      );
    }
    if (state.exec_seq !== state.seq) {
      // A fan-out clone never ran on its own: its execution's head did, for all the outputs.
      throw new ConflictError(
        `State is a fan-out clone: retry its execution, state ${stateIdOf(this.env.runKey, state.exec_seq)}`,
      );
    }
    if (this.store.hasAttempt(state.identifier, fanoutId, 0)) {
      throw new ConflictError("Duplicate retry state detected");
    }
    const retry: StateRow = {
      ...this.newState({ ...state, seq: assertSeq(this.store.nextSeq()), enqueue_after: now }),
      fanout_id: fanoutId,
      manual_retry_fanout_id: fanoutId,
      does_unites: state.does_unites,
    };
    this.insert(retry);
    // The original is superseded (with the clones of its execution, which the retry recreates): none of
    // them counts as a failure in barriers still waiting any more.
    for (const superseded of [state, ...this.store.clonesOf(state.seq).map((c) => this.store.getState(c))]) {
      if (!superseded || !TERMINAL.has(superseded.status) || superseded.status === "RETRY_CREATED") continue;
      const from = superseded.status;
      this.store.updateState(superseded.seq, { status: "RETRY_CREATED" }, now);
      this.store.count(from, -1);
      this.store.count("RETRY_CREATED", 1);
      if (FAILED.has(from)) this.barriers.withdrawFailure(this.barriers.keysOf(superseded), superseded.seq);
    }
    this.settleBarriers();
    this.end();
    return retry;
  }

  private applyOne(report: Report, namespace: string | undefined): ReportOutcome {
    const state = this.store.getState(report.seq);
    if (!state || (namespace !== undefined && state.namespace !== namespace)) {
      return { applied: false, reason: "not_found" };
    }
    if (report.type === "requeue") return this.requeue(state, report.delayMs);
    if (state.status !== "QUEUED") return { applied: false, reason: "not_queued", status: state.status };
    switch (report.type) {
      case "executed": {
        // An output too large to store fails the attempt (and goes through the retry policy) instead of
        // failing the whole transaction: the other reports of the batch still apply.
        // Output indices below MAX_FANOUT keep lineage keys fixed-width (the last slot sorts a unite last).
        if (report.outputs.length > MAX_FANOUT) {
          return this.errored(state, `A state may fan out to at most ${MAX_FANOUT} outputs`);
        }
        const big = report.outputs.findIndex((o) => exceedsBytes(JSON.stringify(o), MAX_STATE_VALUE_BYTES));
        if (big >= 0) {
          return this.errored(state, `Output ${big} is larger than ${MAX_STATE_VALUE_BYTES} bytes`);
        }
        return this.executed(state, report.outputs);
      }
      case "errored":
        return this.errored(state, clip(report.error));
      case "pruned": {
        const data = exceedsBytes(JSON.stringify(report.data), MAX_STATE_VALUE_BYTES)
          ? { dropped: `prune data larger than ${MAX_STATE_VALUE_BYTES} bytes` }
          : report.data;
        this.setStatus(state, "PRUNED", { data });
        return { applied: true, status: "PRUNED", enqueueAfter: state.enqueue_after };
      }
    }
  }

  private requeue(state: StateRow, delayMs: number): ReportOutcome {
    // FIX (design §4): a finished state never runs twice.
    if (TERMINAL.has(state.status)) return { applied: false, reason: "terminal", status: state.status };
    const due = this.now + delayMs;
    this.setStatus(state, "CREATED", { enqueue_after: due });
    this.store.ready(state.seq, due);
    return { applied: true, status: "CREATED", enqueueAfter: due };
  }

  private errored(state: StateRow, error: string): ReportOutcome {
    const policy = this.env.retryPolicy;
    if (state.retry_count < policy.max_retries) {
      const retryCount = state.retry_count + 1;
      const due = this.now + retryDelayMs(policy, retryCount, this.env.random);
      const seq = assertSeq(this.store.nextSeq());
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

  private executed(state: StateRow, outputs: Record<string, unknown>[]): ReportOutcome {
    const node = this.graph.node(state.identifier);
    const spawn = (node.next_nodes ?? []).map((id) => this.graph.node(id)).filter((n) => !n.unites);
    // Members of this execution: the state keeps output 0; clones carry the rest.
    const memberOutputs = outputs.length === 0 ? [{}] : outputs;
    const member = (i: number): StateRow => ({
      ...state,
      outputs: memberOutputs[i] ?? {},
      fanout_index: i,
      exec_seq: state.seq,
    });

    // Pass 1: check that every child can be rendered, so a failure creates nothing (Exosphere marks
    // the whole execution NEXT_CREATED_ERROR; we also leave no orphan children behind).
    try {
      for (let i = 0; i < memberOutputs.length; i++) {
        const m = member(i);
        for (const next of spawn) renderInputs(this.graph, next, this.resolverFor(m, next.identifier));
      }
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      return this.nextCreatedError(state, memberOutputs, e.message);
    }

    // Barriers for unites waiting on this execution exist before any child is counted in them.
    this.barriers.open(state);
    for (let i = 0; i < memberOutputs.length; i++) {
      let m = member(i);
      if (i > 0) {
        m = { ...m, seq: assertSeq(this.store.nextSeq()), fanout_id: this.env.newFanoutId(), retry_count: 0 };
        m.does_unites = false;
        // A clone is born executed and settles below in the same transaction, so it is never pending.
        this.store.insertState({ ...m, status: "SUCCESS", created_at: this.now, updated_at: this.now });
        this.store.count("SUCCESS", 1);
      }
      for (const next of spawn) {
        const inputs = renderInputs(this.graph, next, this.resolverFor(m, next.identifier));
        this.insert(
          this.newState({
            seq: assertSeq(this.store.nextSeq()),
            identifier: next.identifier,
            node_name: next.node_name,
            namespace: next.namespace,
            inputs,
            parents: [...m.parents, [m.identifier, m.seq, m.exec_seq]],
            lineage: childLineage(m),
            enqueue_after: this.now,
          }),
        );
      }
    }
    // One write for the head: its output and its end (children never read it back from the store).
    this.setStatus(state, "SUCCESS", { outputs: memberOutputs[0] ?? {}, fanout_index: 0 });
    return { applied: true, status: "EXECUTED", enqueueAfter: state.enqueue_after };
  }

  private nextCreatedError(
    state: StateRow,
    memberOutputs: Record<string, unknown>[],
    error: string,
  ): ReportOutcome {
    this.setStatus(state, "NEXT_CREATED_ERROR", { outputs: memberOutputs[0] ?? {}, error });
    for (let i = 1; i < memberOutputs.length; i++) {
      const clone: StateRow = {
        ...state,
        seq: assertSeq(this.store.nextSeq()),
        status: "NEXT_CREATED_ERROR",
        outputs: memberOutputs[i] ?? {},
        error,
        exec_seq: state.seq,
        fanout_index: i,
        fanout_id: this.env.newFanoutId(),
        retry_count: 0,
        does_unites: false,
        created_at: this.now,
        updated_at: this.now,
      };
      this.store.insertState(clone);
      this.store.count("NEXT_CREATED_ERROR", 1);
      this.countFailure(clone);
    }
    return { applied: true, status: "EXECUTED", enqueueAfter: state.enqueue_after };
  }

  /** Resolves placeholders for a child of `spawner` (spec §4.2 value sources). */
  private resolverFor(spawner: StateRow, target: string): Resolve {
    return (ref: PlaceholderRef) => {
      if (ref.kind === "store") return this.storeValue(ref.key);
      if (ref.identifier === spawner.identifier) {
        return outputString(spawner.outputs, ref.field, ref.identifier, target);
      }
      return this.ancestorOutput(spawner.parents, ref.identifier, ref.field, target);
    };
  }

  private ancestorOutput(parents: ParentLink[], identifier: string, field: string, target: string): string {
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

  private storeValue(key: string): string {
    const value = this.store.storeValue(key) ?? this.graph.snapshot.store_config.default_values[key];
    if (value === undefined) {
      throw new RenderError(
        `Store value not found for field '${key}' in namespace '${this.env.namespace}' and graph '${this.env.graphName}'`,
      );
    }
    return value;
  }

  // ---- unite barriers ------------------------------------------------------------------------

  private countFailure(state: StateRow): void {
    this.barriers.adjust(this.barriers.keysOf(state), 0, state.seq);
  }

  /** Fires every barrier that became due in this call; firing may make outer barriers due. */
  private settleBarriers(): void {
    for (let due = this.barriers.nextDue(); due; due = this.barriers.nextDue()) this.fire(due);
  }

  private fire(barrier: Barrier): void {
    const unite = this.graph.node(barrier.unite);
    const target = unite.unites?.identifier ?? "";
    const head = this.store.getState(barrier.exec_seq);
    if (!head) throw new Error(`execution ${barrier.exec_seq} of ${target} is missing`);
    this.barriers.markFired(barrier);
    this.barriers.adjust(this.barriers.outerKeys(head), -1); // release the reservation
    const parents: ParentLink[] = [...head.parents, [target, head.seq, head.seq]];

    const base = this.newState({
      seq: assertSeq(this.store.nextSeq()),
      identifier: unite.identifier,
      node_name: unite.node_name,
      namespace: unite.namespace,
      inputs: {},
      parents,
      lineage: uniteLineage(head),
      enqueue_after: this.now,
    });
    base.does_unites = true;
    const strategy = unite.unites?.strategy ?? "ALL_SUCCESS";
    if (strategy === "ALL_SUCCESS" && barrier.failed > 0) {
      const ids = barrier.failed_sample.map((s) => stateIdOf(this.env.runKey, s)).join(", ");
      const more = barrier.failed > barrier.failed_sample.length ? ", …" : "";
      this.insertFailedUnite(
        base,
        `${UNITE_NOT_CREATED} barrier failed: ${barrier.failed} state(s) under ${target} execution ${stateIdOf(this.env.runKey, head.seq)} ended ERRORED or NEXT_CREATED_ERROR (${ids}${more})`,
      );
      return;
    }
    try {
      base.inputs = renderInputs(this.graph, unite, this.uniteResolver(unite.identifier, head));
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      this.insertFailedUnite(base, `${UNITE_NOT_CREATED} inputs could not be built: ${e.message}`);
      return;
    }
    this.insert(base);
  }

  private insertFailedUnite(state: StateRow, error: string): void {
    const failed: StateRow = { ...state, status: "ERRORED", error };
    this.store.insertState(failed);
    this.store.count("ERRORED", 1);
    this.countFailure(failed);
  }

  /** Unite inputs: the target's own outputs as strings, subtree nodes' outputs as JSON arrays (FIX). */
  private uniteResolver(uniteId: string, head: StateRow): Resolve {
    const subtree = this.graph.subtreeOf.get(uniteId) ?? new Set<string>();
    const prefix = subtreePrefix(head);
    return (ref) => {
      if (ref.kind === "store") return this.storeValue(ref.key);
      if (ref.identifier === head.identifier)
        return outputString(head.outputs, ref.field, ref.identifier, uniteId);
      if (subtree.has(ref.identifier)) {
        const values: unknown[] = [];
        for (const value of this.store.subtreeValues(ref.identifier, prefix, ref.field)) values.push(value);
        return JSON.stringify(values);
      }
      return this.ancestorOutput(head.parents, ref.identifier, ref.field, uniteId);
    };
  }

  // ---- state bookkeeping ---------------------------------------------------------------------

  private newState(
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
      created_at: this.now,
      updated_at: this.now,
    };
  }

  /** Inserts a new CREATED state, counts it pending in its barriers, and queues it for dispatch. */
  private insert(state: StateRow): void {
    this.store.insertState(state);
    this.store.count(state.status, 1);
    this.barriers.adjust(this.barriers.keysOf(state), 1);
    this.store.ready(state.seq, state.enqueue_after);
  }

  private setStatus(state: StateRow, status: StateStatus, patch: StatePatch = {}): void {
    const from = state.status;
    this.store.updateState(state.seq, { ...patch, status }, this.now);
    this.store.count(from, -1);
    this.store.count(status, 1);
    if (!TERMINAL.has(from) && TERMINAL.has(status)) {
      this.barriers.adjust(this.barriers.keysOf(state), -1, FAILED.has(status) ? state.seq : undefined);
    }
    state.status = status;
  }

  private begin(now: number): void {
    this.now = now;
    this.barriers.begin();
    this.ancestorOutputs.clear();
  }

  private end(): void {
    this.barriers.end();
  }
}
