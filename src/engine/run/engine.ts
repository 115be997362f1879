// The run engine: every transition of a run's states (design §4), against a RunStore. The run actor
// calls it inside one storage transaction per RPC; this module decides, the store only persists.
//
// Work per transition is O(1) in the run's size: barrier counters are adjusted incrementally, and only
// a unite that fires reads its subtree (once, to render array inputs). The transitions live one concern
// per file, layered: engine-core.ts ← unites.ts ← fan-out.ts ← shard-side.ts ← this file.
import { ConflictError, NotFoundError } from "../errors";
import { stateIdOf } from "../ids";
import { exceedsBytes, MAX_STATE_VALUE_BYTES } from "../limits";
import type { StateStatus } from "../model";
import { CANCELLED_ERROR } from "./control";
import { FAILED, TERMINAL } from "./counts";
import { clip } from "./engine-core";
import { ShardEngine } from "./shard-side";
import type { OutputPage, Report, ReportOutcome, StateRow } from "./types";

export type { EngineEnv } from "./engine-core";

/** A report without a page carries the execution's whole output list. */
const WHOLE: OutputPage = { offset: 0, more: false };
const MANUALLY_RETRYABLE: ReadonlySet<StateStatus> = new Set<StateStatus>([
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "PRUNED",
]);

export class RunEngine extends ShardEngine {
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
    // A push root due now is born claimed, like a wide fan-out's branch: sent after the commit, with no
    // dispatch round to read it back and claim it.
    const claim = this.birthClaim(root.identifier, state.enqueue_after);
    if (claim) {
      this.insertClaimed(state, claim);
      this.store.bornClaimed?.([state]);
    } else this.insert(state);
    this.end();
    return state;
  }

  /**
   * CREATED → QUEUED for the states being handed to a runtime, with the lease that ends the hand-out and,
   * for a push claim, the delivery it is sent in (dispatch bookkeeping the engine passes through). Takes
   * seqs, or rows the caller just read in this transaction. Returns the states that moved.
   */
  claim(
    states: Iterable<number | StateRow>,
    now: number,
    leaseExpires: number | null = null,
    delivery: number | null = null,
  ): StateRow[] {
    this.begin(now);
    const claimed: StateRow[] = [];
    const list = [...states];
    this.store.prefetch?.(list.filter((s): s is number => typeof s === "number"));
    for (const s of list) {
      const state = typeof s === "number" ? this.store.getState(s) : s;
      if (state?.status !== "CREATED") continue;
      this.setStatus(state, "QUEUED", { lease_expires: leaseExpires, delivery });
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
    this.store.prefetch?.(reports.map((r) => r.seq));
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
    if (this.store.isCancelled())
      throw new ConflictError("The run was cancelled: its states cannot be retried");
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
      if (FAILED.has(from))
        this.barriers.withdrawFailure(this.barriers.failureKeysOf(superseded), superseded.seq);
    }
    this.settleBarriers();
    this.end();
    return retry;
  }

  /**
   * Cancels this actor's part of the run (run control): every CREATED, QUEUED or EXECUTED state becomes
   * CANCELLED, so nothing more is dispatched or claimed, late reports are refused (they find no QUEUED
   * state) and no unite fires. False when it was cancelled already. MUST be called inside a transaction.
   */
  cancel(now: number): boolean {
    if (this.store.isCancelled()) return false;
    this.begin(now);
    const moved = this.store.cancelPending(CANCELLED_ERROR, now);
    for (const [status, n] of Object.entries(moved) as [StateStatus, number][]) {
      if (!n) continue;
      this.store.count(status, -n);
      this.store.count("CANCELLED", n);
    }
    this.end();
    return true;
  }

  protected applyOne(report: Report, namespace: string | undefined): ReportOutcome {
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

  protected requeue(state: StateRow, delayMs: number): ReportOutcome {
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
}
