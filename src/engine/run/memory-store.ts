// An in-memory RunStore: the engine's test driver, and the reference for what the SQLite store must do.

import { firstSeqOf } from "../ids";
import type { StateStatus } from "../model";
import type { Barrier, BarrierDelta, RunStore, SpawnBatch, StatePatch, StateRow } from "./types";

export class MemoryRunStore implements RunStore {
  readonly states = new Map<number, StateRow>();
  readonly barriers = new Map<string, Barrier>();
  readonly counts = new Map<StateStatus, number>();
  /** seq → due time of states waiting to be dispatched */
  readonly readyAt = new Map<number, number>();
  /** Batches of branches handed to shards, not yet delivered. */
  /** Batches handed to shards, with the text the engine built for them (`JSON.stringify(batch)`). */
  readonly forwarded: { shard: number; batch: SpawnBatch; text?: string }[] = [];
  /** Changes to other actors' barriers, not yet delivered. */
  readonly remoteDeltas: BarrierDelta[] = [];
  /** Unite states waiting for their gathered inputs. */
  readonly gathers = new Set<number>();
  private shardsUsed = false;
  private cancelled = false;
  /** Errored states tolerated by unites (run control). */
  tolerated = 0;
  private seq: number;

  constructor(
    readonly store: Record<string, string> = {},
    shard = 0,
  ) {
    this.seq = firstSeqOf(shard) - 1;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  getState(seq: number): StateRow | undefined {
    const row = this.states.get(seq);
    if (!row) return undefined;
    const state = structuredClone(row);
    // A fan-out clone's inputs are its execution head's (the SQLite store keeps none of its own).
    if (state.exec_seq !== state.seq)
      state.inputs = structuredClone(this.states.get(state.exec_seq)?.inputs ?? {});
    return state;
  }

  outputsOf(seq: number): Record<string, unknown> | undefined {
    const row = this.states.get(seq);
    return row ? structuredClone(row.outputs) : undefined;
  }

  insertState(row: StateRow): void {
    if (this.states.has(row.seq)) throw new Error(`state ${row.seq} exists`);
    this.states.set(row.seq, structuredClone(row));
  }

  updateState(seq: number, patch: StatePatch, now: number): void {
    const row = this.states.get(seq);
    if (!row) throw new Error(`state ${seq} missing`);
    Object.assign(row, structuredClone(patch), { updated_at: now });
  }

  getBarrier(unite: string, execSeq: number): Barrier | undefined {
    const b = this.barriers.get(`${unite}/${execSeq}`);
    return b ? structuredClone(b) : undefined;
  }

  putBarrier(barrier: Barrier): void {
    this.barriers.set(`${barrier.unite}/${barrier.exec_seq}`, structuredClone(barrier));
  }

  storeValue(key: string): string | undefined {
    return this.store[key];
  }

  subtreeTexts(identifier: string, prefix: string, field: string): string[] {
    return (
      [...this.states.values()]
        .filter((s) => s.identifier === identifier && s.status === "SUCCESS" && s.lineage.startsWith(prefix))
        // Fan-out order: lineage, then output index (an execution's clones share its lineage), then seq.
        .sort((a, b) =>
          a.lineage !== b.lineage
            ? a.lineage < b.lineage
              ? -1
              : 1
            : a.fanout_index - b.fanout_index || a.seq - b.seq,
        )
        .filter((row) => field in row.outputs)
        .map((row) => JSON.stringify(row.outputs[field]))
    );
  }

  clonesOf(execSeq: number): number[] {
    return [...this.states.values()]
      .filter((s) => s.exec_seq === execSeq && s.seq !== execSeq)
      .map((s) => s.seq);
  }

  hasAttempt(identifier: string, fanoutId: string, retryCount: number): boolean {
    for (const s of this.states.values()) {
      if (s.identifier === identifier && s.fanout_id === fanoutId && s.retry_count === retryCount)
        return true;
    }
    return false;
  }

  count(status: StateStatus, delta: number): void {
    this.counts.set(status, (this.counts.get(status) ?? 0) + delta);
  }

  ready(seq: number, due: number): void {
    this.readyAt.set(seq, due);
  }

  forward(shard: number, batch: SpawnBatch, text?: string): void {
    this.shardsUsed = true;
    this.forwarded.push({ shard, batch: structuredClone(batch), ...(text === undefined ? {} : { text }) });
  }

  remoteBarrier(delta: BarrierDelta): void {
    this.remoteDeltas.push(structuredClone(delta));
  }

  gather(seq: number): void {
    this.gathers.add(seq);
  }

  usesShards(): boolean {
    return this.shardsUsed;
  }

  isCancelled(): boolean {
    return this.cancelled;
  }

  cancelPending(error: string, now: number): Partial<Record<StateStatus, number>> {
    this.cancelled = true;
    const moved: Partial<Record<StateStatus, number>> = {};
    for (const row of this.states.values()) {
      if (row.status !== "CREATED" && row.status !== "QUEUED" && row.status !== "EXECUTED") continue;
      moved[row.status] = (moved[row.status] ?? 0) + 1;
      Object.assign(row, { status: "CANCELLED", error, updated_at: now });
      this.readyAt.delete(row.seq);
    }
    return moved;
  }

  tolerate(n: number): void {
    this.tolerated += n;
  }

  byIdentifier(identifier: string): StateRow[] {
    return [...this.states.values()].filter((s) => s.identifier === identifier);
  }
}
