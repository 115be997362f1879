// Runs the namespace actor has recorded but not yet seen started. A trigger (HTTP or cron) indexes its run
// and records its start here in one transaction, then starts the run actor. If the actor dies in between,
// or the start fails, the record is a due-time table of the actor's one alarm, which starts the run again
// (the run actor's `start` is idempotent). So a listed run always comes to exist, instead of showing FAILED
// with no states forever.
//
// A first start made before the record is due covers the run: the record stays until it is due,
// and the run actor writes no alarm for that time or later, since the repair comes by then. At its due time
// the alarm calls `start` once more (the repair), and the run actor arms its own alarm for whatever it still
// needs. Most runs finish within the cover and never write an alarm. The alarm repairs the covered runs
// due within START_REPAIR_BATCH_MS at once, so a stream of triggers wakes it about once per that period.
//
// A record whose run started (a start without cover, or a repair) is deleted by the actor's next
// transaction that records a start, or by the alarm, not in a commit of its own. Until then the actor keeps
// both kinds in memory; if it dies first, the alarm starts those runs once more, which changes nothing.
import { z } from "zod";
import { RunBootstrap } from "../contracts";
import { fireRetryAt } from "../engine/cron-schedule";
import { runKeyOfRunId } from "../engine/ids";
import { START_REPAIR_AFTER_MS, START_REPAIR_BATCH_MS } from "../engine/limits";
import { jsonText, parseStored } from "./stored";

export const STARTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS run_starts (
  run_id TEXT PRIMARY KEY,
  bootstrap TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  retry_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS run_starts_due ON run_starts (retry_at);
`;

/** Recorded runs the alarm starts (or repairs) at once. */
const STARTS_AT_ONCE = 16;

const StartRow = z.object({
  run_id: z.string(),
  bootstrap: jsonText(RunBootstrap),
  attempts: z.number(),
  retry_at: z.number(),
});

export interface StartsHost {
  ctx: DurableObjectState;
  env: Env;
  /** Takes a run that will never start out of the index. MUST be called inside a transaction. */
  forgetRun(runId: string): void;
}

export class RunStarts {
  private readonly sql: SqlStorage;
  /** Runs started under the cover of their record, to be repaired when it is due (see the top). */
  private readonly covering = new Set<string>();
  /** Runs started for good, whose record is not deleted yet (see the top). */
  private readonly started = new Set<string>();

  constructor(private readonly host: StartsHost) {
    this.sql = host.ctx.storage.sql;
  }

  /**
   * Records a run to start; the alarm starts it if nobody else has by `now + START_REPAIR_AFTER_MS`.
   * MUST be called in the transaction that indexes the run; answers that due time, for the alarm.
   */
  add(bootstrap: RunBootstrap, now: number): number {
    this.forgetStarted();
    const due = now + START_REPAIR_AFTER_MS;
    this.sql.exec(
      "INSERT OR IGNORE INTO run_starts (run_id, bootstrap, attempts, retry_at) VALUES (?, ?, 0, ?)",
      bootstrap.run_id,
      JSON.stringify(bootstrap),
      due,
    );
    return due;
  }

  /** Whether the run is recorded and not yet known to have started. */
  pending(runId: string): boolean {
    if (this.started.has(runId) || this.covering.has(runId)) return false;
    return this.sql.exec("SELECT 1 FROM run_starts WHERE run_id = ?", runId).toArray().length > 0;
  }

  /** Which of `runIds` are still waiting for their start. */
  pendingAmong(runIds: readonly string[]): Set<string> {
    if (runIds.length === 0) return new Set();
    return new Set(
      this.sql
        .exec<{ run_id: string }>(
          "SELECT run_id FROM run_starts WHERE run_id IN (SELECT value FROM json_each(?))",
          JSON.stringify(runIds),
        )
        .toArray()
        .map((r) => r.run_id)
        .filter((id) => !this.started.has(id) && !this.covering.has(id)),
    );
  }

  /** The earliest time this part needs the alarm. */
  nextWake(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(retry_at) AS t FROM run_starts").one().t;
  }

  /** Starts every recorded run that is due, and repairs the covered ones due soon (from the alarm). */
  async runDue(now: number): Promise<void> {
    const due = this.sql
      .exec<{ run_id: string; retry_at: number }>(
        "SELECT run_id, retry_at FROM run_starts WHERE retry_at <= ? ORDER BY retry_at",
        now + START_REPAIR_BATCH_MS,
      )
      .toArray()
      .filter((r) => r.retry_at <= now || this.covering.has(r.run_id));
    // Each start is a call to another run actor: a few at a time, so a busy namespace's repairs (one per
    // run it started a few seconds ago) do not queue up behind one another.
    for (let i = 0; i < due.length; i += STARTS_AT_ONCE) {
      await Promise.all(due.slice(i, i + STARTS_AT_ONCE).map(({ run_id }) => this.start(run_id)));
    }
    this.host.ctx.storage.transactionSync(() => this.forgetStarted());
  }

  /**
   * Starts a recorded run and forgets the record; true when the run is started (or was already). Never
   * throws: a failed start is logged and left to the alarm, with a growing delay, and given up (the run
   * taken out of the index) after the last one.
   */
  async start(runId: string): Promise<boolean> {
    if (this.started.has(runId)) return true;
    const raw = this.sql
      .exec("SELECT run_id, bootstrap, attempts, retry_at FROM run_starts WHERE run_id = ?", runId)
      .toArray()[0];
    if (raw === undefined) return true;
    // A first start before the record is due is covered by it; any later one (the repair) is not.
    const repair = this.covering.delete(runId);
    try {
      const row = parseStored(StartRow, raw, `start of run ${runId}`);
      const runKey = runKeyOfRunId(row.bootstrap.run_id);
      if (runKey === null) throw new Error(`recorded run ${runId} has a malformed id`);
      const cover = !repair && row.attempts === 0 && row.retry_at > Date.now() ? row.retry_at : undefined;
      await this.host.env.RUN.getByName(runKey).start(row.bootstrap, cover);
      (cover === undefined ? this.started : this.covering).add(runId);
      return true;
    } catch (e) {
      this.failed(runId, e, repair);
      return false;
    }
  }

  /** Deletes the records of the runs started since the last call. MUST be called inside a transaction. */
  private forgetStarted(): void {
    if (this.started.size === 0) return;
    this.sql.exec(
      "DELETE FROM run_starts WHERE run_id IN (SELECT value FROM json_each(?))",
      JSON.stringify([...this.started]),
    );
    // A first start that answered after its repair (the two raced) left its run marked as covered.
    for (const runId of this.started) this.covering.delete(runId);
    this.started.clear();
  }

  /**
   * A start (or, `repair`, the call that ends a started run's cover) failed: tried again later, with a
   * growing delay. After the last try a run never started is taken out of the index; a started one stays
   * listed, since it exists (only the alarm its repair would have armed is missing).
   */
  private failed(runId: string, e: unknown, repair: boolean): void {
    const reason = e instanceof Error ? e.message : String(e);
    const row = this.sql
      .exec<{ attempts: number }>("SELECT attempts FROM run_starts WHERE run_id = ?", runId)
      .toArray()[0];
    if (row === undefined) return; // started meanwhile by a concurrent attempt
    const attempts = row.attempts + 1;
    const now = Date.now();
    const retryAt = fireRetryAt(attempts, now);
    if (retryAt === null) {
      console.error(
        repair
          ? `run ${runId}: giving up after ${attempts} failed repairs of its start (it stays listed): ${reason}`
          : `run ${runId}: giving up after ${attempts} failed starts: ${reason}`,
      );
      this.host.ctx.storage.transactionSync(() => {
        this.sql.exec("DELETE FROM run_starts WHERE run_id = ?", runId);
        if (!repair) this.host.forgetRun(runId);
      });
      return;
    }
    // Still a started run's repair when it is tried again.
    if (repair) this.covering.add(runId);
    console.error(`run ${runId}: start failed (attempt ${attempts}), retrying: ${reason}`);
    this.sql.exec(
      "UPDATE run_starts SET attempts = ?, retry_at = ? WHERE run_id = ?",
      attempts,
      retryAt,
      runId,
    );
  }
}
