// The shard side of the branch-shard protocol (design §6): a shard writes the branches the run actor
// handed it; the run actor applies what a shard's transactions changed.
import { BORN_CLAIMED_FROM } from "../limits";
import type { StateStatus } from "../model";
import { CANCELLED_ERROR } from "./control";
import { FanOutEngine } from "./fan-out";
import { childLineage } from "./lineage";
import type { SettleDelta, SpawnBatch, StateRow } from "./types";

export abstract class ShardEngine extends FanOutEngine {
  /**
   * Writes the branches the run actor handed to this shard (already counted there). MUST be called inside
   * one transaction, at most once per batch.
   */
  adopt(batch: SpawnBatch, now: number): void {
    this.begin(now);
    const { head } = batch;
    const cancelled = this.store.isCancelled();
    // A wide batch's branches are born claimed (see fan-out.ts).
    const wide = batch.members.length * batch.spawn.length > BORN_CLAIMED_FROM;
    const born: StateRow[] = [];
    // The run actor counted each child CREATED, or QUEUED when it named the child's node in `queued`
    // (expecting it born claimed); a child written otherwise moves its count.
    const queued = new Set(batch.queued ?? []);
    const recount = (identifier: string, status: StateStatus) => {
      const counted: StateStatus = queued.has(identifier) ? "QUEUED" : "CREATED";
      if (counted === status) return;
      this.store.count(counted, -1);
      this.store.count(status, 1);
    };
    // The clones first, with consecutive seqs (the store may keep them as one page), then their children.
    const clones = batch.members.map((member): StateRow => {
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
      };
      this.store.insertState(clone);
      return clone;
    });
    batch.members.forEach((member, k) => {
      const clone = clones[k] as StateRow;
      for (const [i, child] of batch.spawn.entries()) {
        const row = this.newState({
          seq: this.nextSeq(),
          identifier: child.identifier,
          node_name: child.node_name,
          namespace: child.namespace,
          inputs: member.inputs[i] ?? {},
          parents: [...head.parents, [head.identifier, clone.seq, head.seq]],
          lineage: childLineage(clone),
          enqueue_after: now,
        });
        if (cancelled) {
          // The run was cancelled while this batch was on its way: its children never run. The run
          // actor counted them pending; this shard's settle delta moves them.
          this.store.insertState({ ...row, status: "CANCELLED", error: CANCELLED_ERROR });
          recount(row.identifier, "CANCELLED");
          continue;
        }
        const claim = wide ? this.birthClaim(row.identifier, now) : null;
        if (claim) {
          row.status = "QUEUED";
          this.store.insertClaimed?.(row, claim.leaseExpires, claim.delivery);
          recount(row.identifier, "QUEUED");
          born.push(row);
          continue;
        }
        this.store.insertState(row);
        this.store.ready(row.seq, now);
        recount(row.identifier, "CREATED");
      }
    });
    if (born.length > 0) this.store.bornClaimed?.(born);
    this.end();
  }

  /** Applies what a shard's transactions changed in the run's counts and barriers. MUST be in a transaction. */
  applySettle(delta: SettleDelta, now: number): void {
    this.begin(now);
    for (const [status, n] of Object.entries(delta.counts)) {
      if (n) this.store.count(status as StateStatus, n);
    }
    for (const barrier of delta.barriers) this.barriers.applyDelta(barrier);
    if (delta.tolerated) this.store.tolerate(delta.tolerated);
    this.settleBarriers();
    this.end();
  }
}
