// A cancel reaching a run's branch shards (run control, design §6): the run actor records, in the
// transaction that cancels its own states, which shards still have to be told; it tells them at once and
// forgets each one that confirmed. Shards that could not be reached are told again by the alarm, so a
// cancel always reaches every shard of the plan. Telling a shard twice changes nothing.
import { actorName } from "../engine/ids";
import { RESEND_AFTER_MS } from "../engine/limits";
import type { RunMeta } from "./run-meta";

/** What a shard offers for a cancel (the run actor's `cancelShard` RPC). */
export interface CancelPeer {
  cancelShard(meta: RunMeta): Promise<void>;
}

export interface ShardCancelsHost {
  sql: SqlStorage;
  meta(): RunMeta | null;
  peer(name: string): CancelPeer;
  transact<T>(fn: () => T): T;
  /** Arms the actor's alarm no later than `at`, to try again. */
  retryAt(at: number): void;
}

export class ShardCancels {
  private running: Promise<void> | null = null;

  constructor(private readonly host: ShardCancelsHost) {}

  /** Records that shards 1..count must be told. MUST be called inside the cancel's transaction. */
  record(count: number): void {
    const shards = Array.from({ length: count }, (_, i) => i + 1);
    this.host.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('cancel_shards', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(shards),
    );
  }

  /** Tells every shard not yet told; whatever fails is tried again by the alarm. */
  send(): Promise<void> {
    this.running ??= this.sendAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private pending(): number[] {
    const row = this.host.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'cancel_shards'")
      .toArray()[0];
    if (!row) return [];
    const parsed: unknown = JSON.parse(row.value);
    return Array.isArray(parsed) ? parsed.filter((s): s is number => Number.isInteger(s)) : [];
  }

  private async sendAll(): Promise<void> {
    const meta = this.host.meta();
    const shards = this.pending();
    if (meta?.shard !== 0 || shards.length === 0) return;
    const told = await Promise.all(
      shards.map(async (shard) => {
        try {
          await this.host.peer(actorName(meta.run_key, shard)).cancelShard({ ...meta, shard });
          return shard;
        } catch (e) {
          console.error(
            "telling a shard of a cancel failed; the alarm will retry",
            e instanceof Error ? e.message : e,
          );
          return null;
        }
      }),
    );
    const done = new Set(told.filter((s): s is number => s !== null));
    const left = this.pending().filter((s) => !done.has(s));
    this.host.transact(() => {
      if (left.length === 0) this.host.sql.exec("DELETE FROM meta WHERE key = 'cancel_shards'");
      else this.host.sql.exec("UPDATE meta SET value = ? WHERE key = 'cancel_shards'", JSON.stringify(left));
    });
    if (left.length > 0) this.host.retryAt(Date.now() + RESEND_AFTER_MS);
  }
}
