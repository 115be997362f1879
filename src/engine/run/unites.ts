// Unite barriers firing (design §4): a due barrier creates its unite state once, failed (ALL_SUCCESS over
// failed branches) or with inputs rendered from its subtree; over branch shards the inputs are gathered
// first (completeGather). A barrier that rests failed fires again once manual retries of its failed
// branches succeeded: the failed unite state is superseded (RETRY_CREATED) by the one it now creates.
import { stateIdOf } from "../ids";
import { MAX_DELAY_MS } from "../limits";
import { refKey } from "../template/placeholders";
import { exceedsTolerance } from "./control";
import { EngineCore } from "./engine-core";
import { subtreePrefix, uniteLineage } from "./lineage";
import { outputString, RenderError, type Resolve, renderInputs } from "./render";
import type { Barrier, ParentLink, StateRow } from "./types";

export abstract class UniteEngine extends EngineCore {
  protected fire(barrier: Barrier): void {
    const unite = this.graph.node(barrier.unite);
    const target = unite.unites?.identifier ?? "";
    const head = this.store.getState(barrier.exec_seq);
    if (!head) throw new Error(`execution ${barrier.exec_seq} of ${target} is missing`);
    if (barrier.failed_unite !== undefined) this.rescue(barrier.failed_unite, head);
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
    if (
      strategy === "ALL_SUCCESS" &&
      unite.unites &&
      exceedsTolerance(unite.unites, barrier.failed, head.reported_outputs)
    ) {
      const ids = barrier.failed_sample.map((s) => stateIdOf(this.env.runKey, s)).join(", ");
      const more = barrier.failed > barrier.failed_sample.length ? ", …" : "";
      this.insertFailedUnite(
        base,
        `Unite barrier failed: ${barrier.failed} state(s) under ${target} execution ${stateIdOf(this.env.runKey, head.seq)} ended ERRORED or NEXT_CREATED_ERROR (${ids}${more}); retry them to fire it again`,
      );
      this.barriers.markFired(barrier, base.seq);
      return;
    }
    // Failures within a tolerance (run control): the unite runs over the successful branches, and the
    // run's status discounts them, once per execution (by the first tolerant unite of the target).
    if (
      barrier.failed > 0 &&
      strategy === "ALL_SUCCESS" &&
      this.graph.countingUnite(target) === unite.identifier
    ) {
      this.store.tolerate(barrier.failed);
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

  /**
   * A barrier that rested failed is firing again: its ERRORED unite state is superseded (it no longer
   * counts as a failure anywhere), and the reservation it took in the barriers around it is held again
   * until the new unite state exists.
   */
  private rescue(failedUnite: number, head: StateRow): void {
    const failed = this.store.getState(failedUnite);
    if (failed?.status === "ERRORED") {
      this.store.updateState(failed.seq, { status: "RETRY_CREATED" }, this.now);
      this.store.count("ERRORED", -1);
      this.store.count("RETRY_CREATED", 1);
      this.barriers.withdrawFailure(this.barriers.failureKeysOf(failed), failed.seq);
    }
    this.barriers.adjust(this.barriers.outerKeys(head), 1);
  }

  protected insertFailedUnite(state: StateRow, error: string): void {
    const failed: StateRow = { ...state, status: "ERRORED", error, never_ran: true };
    this.store.insertState(failed);
    this.store.count("ERRORED", 1);
    this.countFailure(failed);
  }

  /** Unite inputs: the target's own outputs as strings, subtree nodes' outputs as JSON arrays (FIX). */
  protected uniteResolver(uniteId: string, head: StateRow, gathered?: ReadonlyMap<string, string>): Resolve {
    const subtree = this.graph.subtreeOf.get(uniteId) ?? new Set<string>();
    const prefix = subtreePrefix(head);
    return (ref) => {
      if (ref.kind === "store") return this.storeValue(ref.key);
      if (ref.identifier === head.identifier)
        return outputString(head.outputs, ref.field, ref.identifier, uniteId);
      if (subtree.has(ref.identifier)) {
        const array = gathered?.get(refKey(ref));
        if (array !== undefined) return array;
        return `[${this.store.subtreeTexts(ref.identifier, prefix, ref.field).join(",")}]`;
      }
      return this.ancestorOutput(head.parents, ref.identifier, ref.field, uniteId);
    };
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
}
