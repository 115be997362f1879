// The namespace actor's cron triggers: a table of schedules (one row per graph and expression, armed for
// its next occurrence) and a table of fires (one row per occurrence that is starting a run). The rules
// are in src/engine/cron-schedule.ts; this class moves rows and starts runs. Both tables are due-time
// tables of the actor's one alarm (see `nextWake`), so nothing here is lost across a restart.

import { z } from "zod";
import { RunBootstrap, type TriggerScheduleEntry } from "../contracts";
import { type CronSchedule, decideDue, fireRetryAt, reconcileSchedules } from "../engine/cron-schedule";
import { DomainError, NotFoundError } from "../engine/errors";
import type { CronTrigger } from "../engine/model";
import type { TriggerBody } from "../engine/template/request-schema";
import { jsonText, parseStored } from "./stored";

export const CRON_SCHEMA = `
CREATE TABLE IF NOT EXISTS cron_schedules (
  graph_name TEXT NOT NULL,
  expression TEXT NOT NULL,
  next_fire_at INTEGER NOT NULL,
  PRIMARY KEY (graph_name, expression)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cron_schedules_due ON cron_schedules (next_fire_at);
CREATE TABLE IF NOT EXISTS cron_fires (
  id INTEGER PRIMARY KEY,
  graph_name TEXT NOT NULL,
  expression TEXT NOT NULL,
  scheduled_at INTEGER NOT NULL,
  bootstrap TEXT,
  attempts INTEGER NOT NULL,
  retry_at INTEGER NOT NULL
);
`;

/** A cron occurrence starts a run exactly as an HTTP trigger with an empty body would (spec §4.12). */
const EMPTY_TRIGGER: TriggerBody = { store: {}, inputs: {}, start_delay: 0 };

export interface CronHost {
  ctx: DurableObjectState;
  env: Env;
  /** The namespace this actor serves, once a graph was upserted. */
  namespace(): string | undefined;
  /** Everything a new run needs, without writing anything. Throws DomainError when the graph cannot run. */
  snapshotRun(namespace: string, graphName: string, body: TriggerBody, now: number): Promise<RunBootstrap>;
  /** Indexes the run and records its pending start. MUST be called inside a transaction. */
  recordRun(bootstrap: RunBootstrap, now: number): unknown;
  /** Records the pending start of a run already indexed. MUST be called inside a transaction. */
  recordStart(bootstrap: RunBootstrap, now: number): unknown;
  /** Starts a recorded run (never throws: a failed start stays pending for the alarm). */
  startRun(runId: string): Promise<unknown>;
}

const ScheduleRow = z.object({ graph_name: z.string(), expression: z.string(), next_fire_at: z.number() });

const FireRow = z.object({
  id: z.number(),
  graph_name: z.string(),
  expression: z.string(),
  scheduled_at: z.number(),
  /**
   * Schema version 3 and older kept the snapshotted run here until it started; now a snapshotted run
   * goes to the pending starts with the fire dropped, and new fires leave this NULL.
   */
  bootstrap: z.string().nullable(),
  attempts: z.number(),
});
type FireRow = z.output<typeof FireRow>;

const schedules = (rows: unknown[]) => rows.map((r) => parseStored(ScheduleRow, r, "cron schedule"));

export class NamespaceCron {
  private readonly sql: SqlStorage;

  constructor(private readonly host: CronHost) {
    this.sql = host.ctx.storage.sql;
  }

  /**
   * Brings the graph's schedules in line with its stored template (see `reconcileSchedules`). MUST be
   * called in the transaction that writes the template; the caller re-arms the alarm afterwards.
   */
  reconcile(graphName: string, triggers: readonly CronTrigger[], valid: boolean, now: number): void {
    const current: CronSchedule[] = schedules(
      this.sql
        .exec(
          "SELECT graph_name, expression, next_fire_at FROM cron_schedules WHERE graph_name = ?",
          graphName,
        )
        .toArray(),
    );
    const { add, remove } = reconcileSchedules(current, triggers, valid, now);
    for (const expression of remove) {
      this.sql.exec(
        "DELETE FROM cron_schedules WHERE graph_name = ? AND expression = ?",
        graphName,
        expression,
      );
    }
    for (const s of add) {
      this.sql.exec(
        "INSERT INTO cron_schedules (graph_name, expression, next_fire_at) VALUES (?, ?, ?)",
        graphName,
        s.expression,
        s.next_fire_at,
      );
    }
  }

  schedule(graphName: string): TriggerScheduleEntry[] {
    return schedules(
      this.sql
        .exec(
          "SELECT graph_name, expression, next_fire_at FROM cron_schedules WHERE graph_name = ? ORDER BY next_fire_at, expression",
          graphName,
        )
        .toArray(),
    ).map((s) => ({ expression: s.expression, next_fire_at: new Date(s.next_fire_at).toISOString() }));
  }

  /** The earliest time this part needs the alarm: a schedule's next occurrence or a fire's retry. */
  nextWake(): number | null {
    return this.sql
      .exec<{ t: number | null }>(
        `SELECT min(t) AS t FROM (
           SELECT min(next_fire_at) AS t FROM cron_schedules
           UNION ALL SELECT min(retry_at) FROM cron_fires)`,
      )
      .one().t;
  }

  /**
   * Runs from the alarm. First, in one transaction, every due schedule records one fire and moves to its
   * next occurrence (so a crash afterwards neither loses nor repeats the occurrence); then each pending
   * fire starts its run.
   */
  async runDue(now: number): Promise<void> {
    const due = schedules(
      this.sql
        .exec("SELECT graph_name, expression, next_fire_at FROM cron_schedules WHERE next_fire_at <= ?", now)
        .toArray(),
    );
    this.host.ctx.storage.transactionSync(() => {
      for (const s of due) {
        const [decision] = decideDue([s], now);
        if (decision === undefined) continue;
        if (decision.next === null) {
          console.error(
            `cron: dropping schedule '${s.expression}' of graph ${s.graph_name}: no next occurrence`,
          );
          this.sql.exec(
            "DELETE FROM cron_schedules WHERE graph_name = ? AND expression = ?",
            s.graph_name,
            s.expression,
          );
        } else {
          this.sql.exec(
            "UPDATE cron_schedules SET next_fire_at = ? WHERE graph_name = ? AND expression = ?",
            decision.next,
            s.graph_name,
            s.expression,
          );
        }
        if (decision.fire) {
          this.sql.exec(
            `INSERT INTO cron_fires (graph_name, expression, scheduled_at, bootstrap, attempts, retry_at)
             VALUES (?, ?, ?, NULL, 0, ?)`,
            s.graph_name,
            s.expression,
            s.next_fire_at,
            now,
          );
        }
      }
    });
    const fires = this.sql
      .exec(
        "SELECT id, graph_name, expression, scheduled_at, bootstrap, attempts FROM cron_fires WHERE retry_at <= ? ORDER BY id",
        now,
      )
      .toArray();
    for (const raw of fires) await this.start(raw, now);
  }

  /**
   * Starts one fire's run. The run is snapshotted, then indexed with its start pending in the transaction
   * that drops the fire, so from then on the run's start is the pending starts' business (they retry it);
   * a fire is never turned into two runs. A graph that cannot run (not VALID any more, required store
   * keys) is logged and the fire dropped: the schedule has already moved on. A snapshot that fails
   * otherwise is tried again later.
   */
  private async start(raw: unknown, now: number): Promise<void> {
    const fire: FireRow = parseStored(FireRow, raw, "cron fire");
    const what = `cron '${fire.expression}' of graph ${fire.graph_name} (due ${new Date(fire.scheduled_at).toISOString()})`;
    try {
      let runId: string;
      if (fire.bootstrap === null) {
        const namespace = this.host.namespace();
        if (namespace === undefined) throw new NotFoundError("namespace not known to this actor");
        const snapshot = await this.host.snapshotRun(namespace, fire.graph_name, EMPTY_TRIGGER, Date.now());
        this.host.ctx.storage.transactionSync(() => {
          this.host.recordRun(snapshot, Date.now());
          this.sql.exec("DELETE FROM cron_fires WHERE id = ?", fire.id);
        });
        runId = snapshot.run_id;
      } else {
        // A fire of schema version 3 or older: its run is indexed already, its bootstrap kept here.
        // Parsed inside the try: a bootstrap that no longer parses fails this start like any other error.
        const bootstrap = parseStored(jsonText(RunBootstrap), fire.bootstrap, `bootstrap of ${what}`);
        this.host.ctx.storage.transactionSync(() => {
          this.host.recordStart(bootstrap, Date.now());
          this.sql.exec("DELETE FROM cron_fires WHERE id = ?", fire.id);
        });
        runId = bootstrap.run_id;
      }
      await this.host.startRun(runId);
    } catch (e) {
      if (e instanceof DomainError) {
        console.warn(`${what} started no run: ${e.message}`);
        this.sql.exec("DELETE FROM cron_fires WHERE id = ?", fire.id);
        return;
      }
      const attempts = fire.attempts + 1;
      const retryAt = fireRetryAt(attempts, now);
      const reason = e instanceof Error ? e.message : String(e);
      if (retryAt === null) {
        console.error(`${what}: giving up after ${attempts} failed starts: ${reason}`);
        this.sql.exec("DELETE FROM cron_fires WHERE id = ?", fire.id);
      } else {
        console.error(`${what}: start failed (attempt ${attempts}), retrying: ${reason}`);
        this.sql.exec(
          "UPDATE cron_fires SET attempts = ?, retry_at = ? WHERE id = ?",
          attempts,
          retryAt,
          fire.id,
        );
      }
    }
  }
}
