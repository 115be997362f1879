// The run engine: every transition of a run's states (design §4), against a RunStore. The run actor
// calls it inside one storage transaction per RPC; this module decides, the store only persists.
//
// Work per transition is O(1) in the run's size: barrier counters are adjusted incrementally, and only
// a unite that fires reads its subtree (once, to render array inputs).
import { ConflictError, NotFoundError } from "../errors";
import { shardOfSeq, stateIdOf } from "../ids";
import { exceedsBytes, MAX_DELAY_MS, MAX_ERROR_CHARS, MAX_STATE_VALUE_BYTES } from "../limits";
import type { NodeTemplate, RetryPolicy, StateStatus } from "../model";
import { retryDelayMs } from "../retry";
import { type PlaceholderRef, refKey } from "../template/placeholders";
import { BarrierBook } from "./barriers";
import { FAILED, TERMINAL } from "./counts";
import type { GraphIndex } from "./graph-index";
import { childLineage, MAX_FANOUT, subtreePrefix, uniteLineage } from "./lineage";
import { outputString, RenderError, type Resolve, renderInputs } from "./render";
import type {
  Barrier,
  OutputPage,
  ParentLink,
  Report,
  ReportOutcome,
  RunStore,
  SettleDelta,
  ShardPlan,
  SpawnBatch,
  StatePatch,
  StateRow,
} from "./types";

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
}

/** A report without a page carries the execution's whole output list. */
const WHOLE: OutputPage = { offset: 0, more: false };
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
    this.barriers = new BarrierBook(store, graph, env.shard ?? 0);
  }

  /** The next seq of this actor; every actor allocates in its own range (see ids.ts). */
  private nextSeq(): number {
    const seq = this.store.nextSeq();
    if (shardOfSeq(seq) !== (this.env.shard ?? 0)) throw new Error("run has reached its limit of states");
    return seq;
  }

  /** Creates the root state. MUST be called inside a transaction, once per run. */
  start(rootInputs: Record<string, string>, startDelayMs: number, now: number): StateRow {
    this.begin(now);
    const root = this.graph.root;
    const seq = this.nextSeq();
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
    if (state.never_ran) {
      // It never ran: its barrier failed or its inputs could not be built. Retry the failed branches.
      throw new ConflictError(
        "A unite state that failed at its barrier cannot be retried; retry its failed branches",
      );
    }
    if (state.reported_outputs > 0) {
      // Pages of its outputs were applied before it failed: its branches exist and run on their own.
      throw new ConflictError(
        "This execution's branches were already created from the pages it reported; retry its failed branches",
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
      ...this.newState({ ...state, seq: this.nextSeq(), enqueue_after: now }),
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
    if (state.status === "EXECUTED") {
      // A fan-out reporting in pages: more pages, or the end of its runtime (an error, a lease expiry).
      if (report.type === "executed") return this.executed(state, report.outputs, report.page ?? WHOLE);
      if (report.type === "errored") return this.abandon(state, clip(report.error));
      return { applied: false, reason: "not_queued", status: state.status };
    }
    if (state.status !== "QUEUED") return { applied: false, reason: "not_queued", status: state.status };
    switch (report.type) {
      case "executed":
        return this.executed(state, report.outputs, report.page ?? WHOLE);
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
    // FIX (design §4): only the runtime running a state (QUEUED) may requeue it. A finished state never
    // runs twice, one whose outputs are arriving is not put back, and a CREATED one nobody claimed is
    // not delayed by whoever guesses its id.
    if (state.status !== "QUEUED") {
      const reason = TERMINAL.has(state.status) ? "terminal" : "not_queued";
      return { applied: false, reason, status: state.status };
    }
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

  /**
   * Applies one page of an execution's outputs (the whole list when it is not paged). The state keeps
   * output 0 and clones carry the others; each member spawns its children. A paged execution stays
   * EXECUTED, holding one reservation in its own barriers, until its last page: no unite over it can
   * fire before every branch exists. Pages apply in order and at most once.
   */
  private executed(state: StateRow, outputs: Record<string, unknown>[], page: OutputPage): ReportOutcome {
    const opening = state.status === "QUEUED";
    const received = opening ? 0 : state.reported_outputs;
    if (page.offset > received) return { applied: false, reason: "page_gap", status: state.status };
    const fresh = outputs.slice(received - page.offset);
    const end = received + fresh.length;
    if (!opening && fresh.length === 0 && page.more) {
      return { applied: false, reason: "duplicate_page", status: state.status };
    }
    // A bad page fails the attempt (through the retry policy) while nothing of it exists yet; once
    // branches exist it ends the execution. Either way the other reports of the batch still apply.
    const fail = (error: string) => (opening ? this.errored(state, error) : this.abandon(state, error));
    // Output indices below MAX_FANOUT keep lineage keys fixed-width (the last slot sorts a unite last).
    if (end > MAX_FANOUT) return fail(`A state may fan out to at most ${MAX_FANOUT} outputs`);
    const big = fresh.findIndex((o) => exceedsBytes(JSON.stringify(o), MAX_STATE_VALUE_BYTES));
    if (big >= 0) return fail(`Output ${received + big} is larger than ${MAX_STATE_VALUE_BYTES} bytes`);

    const node = this.graph.node(state.identifier);
    const spawn = (node.next_nodes ?? []).map((id) => this.graph.node(id)).filter((n) => !n.unites);
    const member = (index: number, memberOutputs: Record<string, unknown>): StateRow => ({
      ...state,
      outputs: memberOutputs,
      fanout_index: index,
      exec_seq: state.seq,
    });
    // FIX (design §6): an execution with no outputs has zero width. Children that read its outputs are
    // not created; the others are, once; unites over it fire with empty arrays.
    const last = !page.more;
    const members: [StateRow, NodeTemplate[]][] = fresh.map((o, j) => [member(received + j, o), spawn]);
    if (last && end === 0) {
      members.push([member(0, {}), spawn.filter((n) => !this.graph.readsOutputsOf(n, state.identifier))]);
    }

    // Pass 1: check that every child can be rendered, so a failure creates nothing of this page.
    try {
      for (const [m, children] of members) {
        for (const next of children) renderInputs(this.graph, next, this.resolverFor(m, next.identifier));
      }
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      return this.nextCreatedError(state, received, fresh, e.message, opening);
    }

    if (opening) {
      // Barriers for unites waiting on this execution exist before any child is counted in them.
      this.barriers.open(state);
      if (!last) this.barriers.adjust(this.barriers.ownKeys(state), 1);
    }
    const batches = new Map<number, SpawnBatch>();
    for (let [m, children] of members) {
      const shard = this.shardOf(m.fanout_index);
      if (shard !== 0) {
        this.forwardMember(batches, shard, state, m, children);
        continue;
      }
      if (m.fanout_index > 0) {
        m = {
          ...m,
          seq: this.nextSeq(),
          fanout_id: this.env.newFanoutId(),
          retry_count: 0,
          does_unites: false,
          reported_outputs: 0,
        };
        // A clone is born executed and settles below in the same transaction, so it is never pending.
        this.store.insertState({ ...m, status: "SUCCESS", created_at: this.now, updated_at: this.now });
        this.store.count("SUCCESS", 1);
      }
      for (const next of children) {
        const inputs = renderInputs(this.graph, next, this.resolverFor(m, next.identifier));
        this.insert(
          this.newState({
            seq: this.nextSeq(),
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
    for (const [shard, batch] of batches) this.store.forward(shard, batch);
    // One write for the head per page: its output 0 (children never read it back from the store), how far
    // the execution got, and its end with the last page.
    const patch: StatePatch = { reported_outputs: end };
    if (opening) Object.assign(patch, { outputs: fresh[0] ?? {}, fanout_index: 0 });
    if (last) {
      if (!opening) this.barriers.adjust(this.barriers.ownKeys(state), -1); // release the reservation
      this.setStatus(state, "SUCCESS", patch);
    } else if (opening) {
      this.setStatus(state, "EXECUTED", patch);
    } else {
      this.store.updateState(state.seq, patch, this.now);
    }
    return { applied: true, status: "EXECUTED", enqueueAfter: state.enqueue_after };
  }

  /** The shard member `index` of a fan-out goes to: 0 (stays here) unless this is the run actor. */
  private shardOf(index: number): number {
    const plan = this.env.shards;
    if ((this.env.shard ?? 0) !== 0 || !plan || plan.count < 1 || index < Math.max(1, plan.from)) return 0;
    return 1 + (index % plan.count);
  }

  /**
   * Hands one member and its children to a shard. They are counted here, now (the clone SUCCESS, each
   * child CREATED and pending in its barriers), so that neither the run's counts nor a barrier can look
   * finished while the batch is on its way; the shard only writes their rows.
   */
  private forwardMember(
    batches: Map<number, SpawnBatch>,
    shard: number,
    head: StateRow,
    m: StateRow,
    children: NodeTemplate[],
  ): void {
    let batch = batches.get(shard);
    if (!batch) {
      const { seq, identifier, node_name, namespace, parents, lineage } = head;
      batch = { head: { seq, identifier, node_name, namespace, parents, lineage }, members: [] };
      batches.set(shard, batch);
    }
    const keys = this.barriers.keys([...m.parents, [m.identifier, 0, m.exec_seq]], undefined);
    batch.members.push({
      fanout_index: m.fanout_index,
      fanout_id: this.env.newFanoutId(),
      outputs: m.outputs,
      children: children.map((next) => {
        this.store.count("CREATED", 1);
        this.barriers.adjust(keys, 1);
        return {
          identifier: next.identifier,
          node_name: next.node_name,
          namespace: next.namespace,
          inputs: renderInputs(this.graph, next, this.resolverFor(m, next.identifier)),
          fanout_id: this.env.newFanoutId(),
        };
      }),
    });
    this.store.count("SUCCESS", 1);
  }

  /**
   * Writes the branches the run actor handed to this shard (already counted there). MUST be called inside
   * one transaction, at most once per batch.
   */
  adopt(batch: SpawnBatch, now: number): void {
    this.begin(now);
    const { head } = batch;
    for (const member of batch.members) {
      const clone: StateRow = {
        ...this.newState({
          seq: this.nextSeq(),
          identifier: head.identifier,
          node_name: head.node_name,
          namespace: head.namespace,
          inputs: {},
          parents: head.parents,
          lineage: head.lineage,
          enqueue_after: now,
        }),
        status: "SUCCESS",
        outputs: member.outputs,
        exec_seq: head.seq,
        fanout_index: member.fanout_index,
        fanout_id: member.fanout_id,
      };
      this.store.insertState(clone);
      for (const child of member.children) {
        const row = this.newState({
          seq: this.nextSeq(),
          identifier: child.identifier,
          node_name: child.node_name,
          namespace: child.namespace,
          inputs: child.inputs,
          parents: [...head.parents, [head.identifier, clone.seq, head.seq]],
          lineage: childLineage(clone),
          enqueue_after: now,
        });
        row.fanout_id = child.fanout_id;
        this.store.insertState(row);
        this.store.ready(row.seq, now);
      }
    }
    this.end();
  }

  /** Applies what a shard's transactions changed in the run's counts and barriers. MUST be in a transaction. */
  applySettle(delta: SettleDelta, now: number): void {
    this.begin(now);
    for (const [status, n] of Object.entries(delta.counts)) {
      if (n) this.store.count(status as StateStatus, n);
    }
    for (const barrier of delta.barriers) this.barriers.applyDelta(barrier);
    this.settleBarriers();
    this.end();
  }

  /**
   * Gives a unite that waited for its array inputs (gathered from the shards, in fan-out order, as JSON
   * arrays keyed by `refKey`) its inputs, and makes it ready; or records it ERRORED when they cannot be
   * built. False when the state no longer waits (a repeated gather). MUST be called inside a transaction.
   */
  completeGather(seq: number, arrays: ReadonlyMap<string, string>, now: number): boolean {
    this.begin(now);
    try {
      const state = this.store.getState(seq);
      const link = state?.parents[state.parents.length - 1];
      const head = link ? this.store.getState(link[1]) : undefined;
      if (!state || !head || state.status !== "CREATED" || !state.does_unites || state.enqueue_after <= now) {
        return false;
      }
      const unite = this.graph.node(state.identifier);
      try {
        const inputs = renderInputs(this.graph, unite, this.uniteResolver(unite.identifier, head, arrays));
        this.store.updateState(seq, { inputs, enqueue_after: now }, now);
        this.store.ready(seq, now);
      } catch (e) {
        if (!(e instanceof RenderError)) throw e;
        this.setStatus(state, "ERRORED", {
          error: `Unite inputs could not be built: ${e.message}`,
          never_ran: true,
        });
        this.settleBarriers();
      }
      return true;
    } finally {
      this.end();
    }
  }

  /** The subtree fields a unite's inputs read, as `refKey`s with what to gather for each. */
  gatherRefs(uniteId: string): { key: string; identifier: string; field: string }[] {
    const unite = this.graph.node(uniteId);
    const subtree = this.graph.subtreeOf.get(uniteId) ?? new Set<string>();
    const refs = new Map<string, { key: string; identifier: string; field: string }>();
    for (const field of this.graph.inputFields(unite)) {
      for (const { ref } of this.graph.template(unite, field)?.parts ?? []) {
        if (ref.kind === "output" && subtree.has(ref.identifier)) {
          refs.set(refKey(ref), { key: refKey(ref), identifier: ref.identifier, field: ref.field });
        }
      }
    }
    return [...refs.values()];
  }

  /**
   * Ends a paged execution that will send no more pages (its runtime reported an error, or its lease
   * expired). Its branches exist already, so it is not retried: it ends ERRORED, counted as a failure in
   * its own barriers and the ones around it, and its unites fire (ALL_DONE) or fail (ALL_SUCCESS).
   */
  private abandon(state: StateRow, error: string): ReportOutcome {
    this.barriers.adjust(this.barriers.ownKeys(state), -1, state.seq);
    const message = `${error} (after ${state.reported_outputs} of its outputs were reported)`;
    this.setStatus(state, "ERRORED", { error: message });
    return { applied: true, status: "ERRORED", retryCreated: false, enqueueAfter: state.enqueue_after };
  }

  private nextCreatedError(
    state: StateRow,
    received: number,
    fresh: Record<string, unknown>[],
    error: string,
    opening: boolean,
  ): ReportOutcome {
    // Branches of earlier pages exist: the execution's own barriers count it as failed and are released.
    if (!opening) this.barriers.adjust(this.barriers.ownKeys(state), -1, state.seq);
    this.setStatus(state, "NEXT_CREATED_ERROR", opening ? { outputs: fresh[0] ?? {}, error } : { error });
    for (let j = 0; j < fresh.length; j++) {
      const index = received + j;
      if (index === 0) continue;
      const clone: StateRow = {
        ...state,
        seq: this.nextSeq(),
        status: "NEXT_CREATED_ERROR",
        outputs: fresh[j] ?? {},
        error,
        exec_seq: state.seq,
        fanout_index: index,
        fanout_id: this.env.newFanoutId(),
        retry_count: 0,
        does_unites: false,
        reported_outputs: 0,
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
      seq: this.nextSeq(),
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
        `Unite barrier failed: ${barrier.failed} state(s) under ${target} execution ${stateIdOf(this.env.runKey, head.seq)} ended ERRORED or NEXT_CREATED_ERROR (${ids}${more})`,
      );
      return;
    }
    if (this.store.usesShards() && this.gatherRefs(unite.identifier).length > 0) {
      // Its subtree's outputs live in the shards too: read them page by page, outside this transaction,
      // then `completeGather` gives it its inputs. Until then it is CREATED (pending) and not due.
      base.enqueue_after = this.now + MAX_DELAY_MS;
      this.insert(base);
      this.store.gather(base.seq);
      return;
    }
    try {
      base.inputs = renderInputs(this.graph, unite, this.uniteResolver(unite.identifier, head));
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      this.insertFailedUnite(base, `Unite inputs could not be built: ${e.message}`);
      return;
    }
    this.insert(base);
  }

  private insertFailedUnite(state: StateRow, error: string): void {
    const failed: StateRow = { ...state, status: "ERRORED", error, never_ran: true };
    this.store.insertState(failed);
    this.store.count("ERRORED", 1);
    this.countFailure(failed);
  }

  /** Unite inputs: the target's own outputs as strings, subtree nodes' outputs as JSON arrays (FIX). */
  private uniteResolver(uniteId: string, head: StateRow, gathered?: ReadonlyMap<string, string>): Resolve {
    const subtree = this.graph.subtreeOf.get(uniteId) ?? new Set<string>();
    const prefix = subtreePrefix(head);
    return (ref) => {
      if (ref.kind === "store") return this.storeValue(ref.key);
      if (ref.identifier === head.identifier)
        return outputString(head.outputs, ref.field, ref.identifier, uniteId);
      if (subtree.has(ref.identifier)) {
        const array = gathered?.get(refKey(ref));
        if (array !== undefined) return array;
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
      never_ran: false,
      reported_outputs: 0,
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
