// The branch-shard protocol between a run's actors (design §6), on top of three outboxes that the engine
// fills inside its transactions:
//
// - spawn_outbox (run actor): batches of branches for a shard. Sent by `adopt` RPCs; a shard writes each
//   batch once (it records the batch id) and the row is deleted once the shard confirmed.
// - settle_outbox (shard): what each transaction changed in the run's counts and in the run actor's
//   barriers. Sent to the run actor strictly in id order, several rows merged into one `settle` RPC; the
//   run actor applies a range once (it records the last id per shard) and answers how far it applied.
// - gathers (run actor): unite states whose array inputs must be read from the shards, page by page, in
//   fan-out order, before they can be dispatched.
//
// Every row outlives a crash: the actor's alarm stays armed while any is left, so each is sent (or each
// gather run) again within seconds. Duplicates are harmless by construction.
import { actorName } from "../engine/ids";
import type { RunEngine } from "../engine/run/engine";
import {
  gatherArray,
  type SubtreePage,
  type SubtreePosition,
  type SubtreeReader,
} from "../engine/run/gather";
import { subtreePrefix } from "../engine/run/lineage";
import { mergeSettles } from "../engine/run/settle";
import type { SettleDelta } from "../engine/run/types";
import type { RunMeta } from "./run-meta";
import type { SqlRunStore } from "./run-sql-store";

/** Outbox rows one pass reads (bounds memory per pass). */
const SPAWNS_PER_PASS = 32;
const SETTLES_PER_RPC = 500;
/** adopt RPCs in flight at once. */
const SPAWN_CONCURRENCY = 8;
/** Values one page of a gather reads from one actor. */
export const GATHER_PAGE = 5_000;

/** The run actor's RPC surface that the protocol uses between the run's actors. */
export interface RunPeer {
  /** Batch `id` of branches, as its JSON text (`SpawnBatch`). */
  adopt(meta: RunMeta, id: number, body: string): Promise<void>;
  settle(from: number, first: number, last: number, delta: SettleDelta): Promise<number>;
  subtreePage(
    identifier: string,
    prefix: string,
    field: string,
    after: SubtreePosition | null,
    limit: number,
  ): Promise<SubtreePage>;
}

export interface ShardLinkHost {
  store: SqlRunStore;
  meta(): RunMeta | null;
  engine(): RunEngine;
  peer(name: string): RunPeer;
  transact<T>(fn: () => T): T;
  /** Dispatches what became ready (after a gather completed). */
  dispatch(): Promise<void>;
}

export class ShardLink {
  readonly cost = { spawnRpcs: 0, settleRpcs: 0 };
  private running: Promise<void> | null = null;
  private again = false;
  private readonly gathering = new Set<number>();

  constructor(private readonly host: ShardLinkHost) {}

  /**
   * Sends the spawn and settle outboxes. The caller that wrote rows awaits this, so a report returns once
   * its branches are with their shards (or its deltas with the run actor); concurrent callers share one
   * loop. Whatever fails stays in its outbox for the alarm.
   */
  send(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.sendSpawns();
        await this.sendSettles();
      } catch (e) {
        // Rows stay in their outboxes: the alarm sends them again shortly.
        console.error("shard protocol send failed; the alarm will retry", e instanceof Error ? e.message : e);
        return;
      }
    } while (this.again);
  }

  /**
   * Runs every pending gather. Only the alarm calls this: a gather reads a whole subtree page by page and
   * must not hold up the RPC whose transaction fired the unite.
   */
  async gatherAll(): Promise<void> {
    try {
      await this.runGathers();
    } catch (e) {
      console.error(
        "gathering a unite's inputs failed; the alarm will retry",
        e instanceof Error ? e.message : e,
      );
    }
  }

  private async sendSpawns(): Promise<void> {
    const meta = this.host.meta();
    if (meta?.shard !== 0) return;
    for (;;) {
      const rows = this.host.store.pendingSpawns(SPAWNS_PER_PASS);
      if (rows.length === 0) return;
      for (let i = 0; i < rows.length; i += SPAWN_CONCURRENCY) {
        await Promise.all(
          rows.slice(i, i + SPAWN_CONCURRENCY).map(async (row) => {
            const shardMeta: RunMeta = { ...meta, shard: row.shard };
            await this.host.peer(actorName(meta.run_key, row.shard)).adopt(shardMeta, row.id, row.body);
            this.cost.spawnRpcs += 1;
            this.host.transact(() => this.host.store.spawnConfirmed(row.id));
          }),
        );
      }
      if (rows.length < SPAWNS_PER_PASS) return;
    }
  }

  private async sendSettles(): Promise<void> {
    const meta = this.host.meta();
    if (!meta || meta.shard === 0) return;
    for (;;) {
      const rows = this.host.store.pendingSettles(SETTLES_PER_RPC);
      const first = rows[0];
      const last = rows[rows.length - 1];
      if (!first || !last) return;
      const applied = await this.host
        .peer(actorName(meta.run_key, 0))
        .settle(meta.shard, first.id, last.id, mergeSettles(rows.map((r) => r.delta)));
      this.cost.settleRpcs += 1;
      this.host.transact(() => this.host.store.settlesConfirmed(applied));
      if (applied < first.id)
        throw new Error(`the run actor has applied settle deltas only up to ${applied}`);
    }
  }

  private async runGathers(): Promise<void> {
    const meta = this.host.meta();
    if (meta?.shard !== 0) return;
    for (const seq of this.host.store.pendingGathers()) {
      if (this.gathering.has(seq)) continue;
      this.gathering.add(seq);
      try {
        await this.gather(meta, seq);
      } finally {
        this.gathering.delete(seq);
      }
    }
  }

  /** Reads a waiting unite's subtree arrays from every actor of the run, then gives it its inputs. */
  private async gather(meta: RunMeta, seq: number): Promise<void> {
    const { store } = this.host;
    const engine = this.host.engine();
    const state = store.getState(seq);
    const link = state?.parents[state.parents.length - 1];
    const head = link ? store.getState(link[1]) : undefined;
    const arrays = new Map<string, string>();
    if (state && head) {
      const prefix = subtreePrefix(head);
      for (const ref of engine.gatherRefs(state.identifier)) {
        arrays.set(ref.key, await this.gatherArray(meta, ref.identifier, prefix, ref.field));
      }
    }
    this.host.transact(() => {
      engine.completeGather(seq, arrays, Date.now());
      store.gatherDone(seq);
    });
    await this.host.dispatch();
  }

  /** `field` of every SUCCESS state of `identifier` under `prefix`, over all actors, in fan-out order. */
  private gatherArray(meta: RunMeta, identifier: string, prefix: string, field: string): Promise<string> {
    const readers = [0, ...Array.from({ length: meta.shards.count }, (_, i) => i + 1)].map(
      (shard): SubtreeReader =>
        (after) =>
          shard === meta.shard
            ? Promise.resolve(this.host.store.subtreePage(identifier, prefix, field, after, GATHER_PAGE))
            : this.host
                .peer(actorName(meta.run_key, shard))
                .subtreePage(identifier, prefix, field, after, GATHER_PAGE),
    );
    return gatherArray(readers, GATHER_PAGE);
  }
}
