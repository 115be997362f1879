// Unite barriers (design §4): one per (unite node, execution of its target). `pending` counts the
// subtree's states that are not terminal yet, plus one reservation per open inner barrier; `failed`
// counts the subtree's ERRORED / NEXT_CREATED_ERROR states. Every change is O(unites × depth).
//
// An ALL_SUCCESS barrier that fired failed rests, still counting: when manual retries of its failed
// branches have all succeeded (nothing pending, no failure left) it is due again, and firing supersedes
// the failed unite state it recorded (unites.ts).
//
// A BarrierBook caches the barriers one engine call touches and writes the changed ones back at `end`.
// A barrier lives with its execution's head: in a branch shard, a change to a barrier of the run actor's
// executions becomes a delta that the shard sends with its transaction (design §6).
import { shardOfSeq } from "../ids";
import { exceedsTolerance, hasTolerance } from "./control";
import type { GraphIndex } from "./graph-index";
import type { Barrier, BarrierDelta, ParentLink, RunStore, StateRow } from "./types";

export const FAILED_SAMPLE = 5;
export type BarrierKey = readonly [unite: string, execSeq: number];
const keyOf = (unite: string, execSeq: number) => `${unite}\u0000${execSeq}`;
/** Whether a barrier still counts: open, or resting failed. */
const counting = (b: Barrier | undefined): b is Barrier =>
  b !== undefined && (!b.fired || b.failed_unite !== undefined);

export class BarrierBook {
  private readonly cache = new Map<string, Barrier>();
  private readonly dirty = new Set<string>();
  private readonly touched = new Set<string>();

  constructor(
    private readonly store: RunStore,
    private readonly graph: GraphIndex,
    /** The actor this book serves: 0 for the run actor, s for branch shard s. */
    private readonly shard = 0,
  ) {}

  private isLocal(execSeq: number): boolean {
    return shardOfSeq(execSeq) === this.shard;
  }

  /** The barriers a state with these ancestors counts in: one per unite waiting on an ancestor execution. */
  keys(parents: readonly ParentLink[], ownTarget: string | undefined): BarrierKey[] {
    const keys: BarrierKey[] = [];
    for (const [identifier, , execSeq] of parents) {
      // A unite state does not wait for, nor hold up, the other unites of its own target execution.
      if (identifier === ownTarget) continue;
      for (const unite of this.graph.unitesByTarget.get(identifier) ?? [])
        keys.push([unite.identifier, execSeq]);
    }
    return keys;
  }

  keysOf(state: StateRow): BarrierKey[] {
    return this.keys(
      state.parents,
      state.does_unites ? this.graph.uniteTargetOf(state.identifier) : undefined,
    );
  }

  /**
   * The barriers a failure of `state` counts in (run control): those of `keysOf`, from the innermost
   * ancestor outwards, up to the first ancestor that a unite with a tolerance waits on. That unite takes
   * charge of its subtree's failures: they reach outer barriers only through it (an exceeded tolerance
   * records its unite ERRORED, which counts as one failure outside). Without tolerances: `keysOf`.
   */
  failureKeysOf(state: StateRow): BarrierKey[] {
    if (this.graph.absorbingTargets.size === 0) return this.keysOf(state);
    const ownTarget = state.does_unites ? this.graph.uniteTargetOf(state.identifier) : undefined;
    const keys: BarrierKey[] = [];
    for (let i = state.parents.length - 1; i >= 0; i--) {
      const [identifier, , execSeq] = state.parents[i] as (typeof state.parents)[number];
      if (identifier === ownTarget) continue;
      for (const unite of this.graph.unitesByTarget.get(identifier) ?? [])
        keys.push([unite.identifier, execSeq]);
      if (this.graph.absorbingTargets.has(identifier)) break;
    }
    return keys;
  }

  /** Adds `pending` to each open barrier, and counts a failure of `failedSeq` when given. */
  adjust(keys: BarrierKey[], pending: number, failedSeq?: number): void {
    for (const [unite, execSeq] of keys) {
      if (!this.isLocal(execSeq)) {
        this.store.remoteBarrier({
          unite,
          exec_seq: execSeq,
          pending,
          failed: failedSeq === undefined ? 0 : 1,
          failed_add: failedSeq === undefined ? [] : [failedSeq],
          failed_remove: [],
        });
        continue;
      }
      const barrier = this.get(unite, execSeq);
      if (!counting(barrier)) continue;
      barrier.pending += pending;
      if (failedSeq !== undefined) {
        barrier.failed += 1;
        if (barrier.failed_sample.length < FAILED_SAMPLE) barrier.failed_sample.push(failedSeq);
      }
      this.mark(unite, execSeq, true);
    }
  }

  /** Takes back a failure counted in open barriers (its state was superseded by a retry). */
  withdrawFailure(keys: BarrierKey[], seq: number): void {
    for (const [unite, execSeq] of keys) {
      if (!this.isLocal(execSeq)) {
        this.store.remoteBarrier({
          unite,
          exec_seq: execSeq,
          pending: 0,
          failed: -1,
          failed_add: [],
          failed_remove: [seq],
        });
        continue;
      }
      const barrier = this.get(unite, execSeq);
      if (!counting(barrier)) continue;
      barrier.failed = Math.max(0, barrier.failed - 1);
      barrier.failed_sample = barrier.failed_sample.filter((s) => s !== seq);
      // A resting barrier's last failure withdrawn may make it due (once nothing is pending).
      this.mark(unite, execSeq, barrier.failed_unite !== undefined);
    }
  }

  /** The barriers waiting on `head`'s own execution (one per unite of its node). */
  ownKeys(head: StateRow): BarrierKey[] {
    return (this.graph.unitesByTarget.get(head.identifier) ?? []).map(
      (u) => [u.identifier, head.seq] as const,
    );
  }

  /** The reservation keys of `head`'s barriers: the barriers around the execution's future unite states. */
  outerKeys(head: StateRow): BarrierKey[] {
    return this.keys([...head.parents, [head.identifier, head.seq, head.seq]], head.identifier);
  }

  /**
   * Opens one barrier per unite waiting on this execution. Each holds a reservation in the barriers
   * around it, so an outer unite cannot fire before the inner unite state exists.
   */
  open(head: StateRow): void {
    const outer = this.outerKeys(head);
    for (const unite of this.graph.unitesByTarget.get(head.identifier) ?? []) {
      this.cache.set(keyOf(unite.identifier, head.seq), {
        unite: unite.identifier,
        exec_seq: head.seq,
        pending: 0,
        failed: 0,
        failed_sample: [],
        fired: false,
      });
      this.mark(unite.identifier, head.seq, true);
      this.adjust(outer, 1);
    }
  }

  /** Applies a change a shard made to one of this actor's barriers (see SettleDelta). */
  applyDelta(delta: BarrierDelta): void {
    const barrier = this.get(delta.unite, delta.exec_seq);
    if (!counting(barrier)) return;
    barrier.pending += delta.pending;
    barrier.failed = Math.max(0, barrier.failed + delta.failed);
    const removed = new Set(delta.failed_remove);
    barrier.failed_sample = [
      ...barrier.failed_sample.filter((s) => !removed.has(s)),
      ...delta.failed_add,
    ].slice(0, FAILED_SAMPLE);
    this.mark(delta.unite, delta.exec_seq, true);
  }

  /**
   * The next touched barrier that is due to fire, or undefined: open with nothing pending; open with its
   * failures already past its unite's tolerance (run control: it fails at once); or resting failed with
   * nothing pending and its failures back within what its unite accepts (none without a tolerance).
   */
  nextDue(): Barrier | undefined {
    for (const key of this.touched) {
      this.touched.delete(key);
      const barrier = this.cache.get(key);
      if (!barrier) continue;
      if (!barrier.fired && (barrier.pending === 0 || this.exceeded(barrier))) return barrier;
      if (barrier.fired && barrier.failed_unite !== undefined && barrier.pending === 0) {
        if (!this.failsNow(barrier)) return barrier;
      }
    }
    return undefined;
  }

  /** Whether an open barrier's failures already exceed its unite's tolerance (never without one). */
  private exceeded(barrier: Barrier): boolean {
    if (barrier.failed === 0) return false;
    const unites = this.graph.byId.get(barrier.unite)?.unites;
    if (!unites || !hasTolerance(unites)) return false;
    const head = this.store.getState(barrier.exec_seq);
    if (!head) return false;
    // While pages of the execution's outputs arrive its width still grows: a percentage waits.
    return exceedsTolerance(unites, barrier.failed, head.reported_outputs, head.status !== "EXECUTED");
  }

  /** Whether a barrier with nothing pending would fail: its failures exceed what its unite accepts. */
  private failsNow(barrier: Barrier): boolean {
    if (barrier.failed === 0) return false;
    const unites = this.graph.byId.get(barrier.unite)?.unites;
    if (!unites || !hasTolerance(unites)) return true;
    const head = this.store.getState(barrier.exec_seq);
    return head === undefined || exceedsTolerance(unites, barrier.failed, head.reported_outputs);
  }

  /** Records the firing; `failedUnite` when it recorded an ERRORED unite state (it then rests failed). */
  markFired(barrier: Barrier, failedUnite?: number): void {
    barrier.fired = true;
    if (failedUnite === undefined) delete barrier.failed_unite;
    else barrier.failed_unite = failedUnite;
    this.mark(barrier.unite, barrier.exec_seq, false);
  }

  begin(): void {
    this.cache.clear();
    this.dirty.clear();
    this.touched.clear();
  }

  /** Writes every barrier changed since `begin`. MUST run inside the caller's transaction. */
  end(): void {
    for (const key of this.dirty) {
      const barrier = this.cache.get(key);
      if (barrier) this.store.putBarrier(barrier);
    }
    this.dirty.clear();
  }

  private get(unite: string, execSeq: number): Barrier | undefined {
    const key = keyOf(unite, execSeq);
    let barrier = this.cache.get(key);
    if (!barrier) {
      barrier = this.store.getBarrier(unite, execSeq);
      if (barrier) this.cache.set(key, barrier);
    }
    return barrier;
  }

  private mark(unite: string, execSeq: number, touched: boolean): void {
    const key = keyOf(unite, execSeq);
    this.dirty.add(key);
    if (touched) this.touched.add(key);
  }
}
