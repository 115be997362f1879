// Cron triggers, fired by the namespace actor's alarm. Every schedule here is yearly ("0 0 1 1 *"), so no
// real alarm goes off while the tests run; a test makes its own schedule due by moving its stored time
// into the past, then runs the alarm explicitly. Each test has its own graph, so it counts only its runs.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { fresh, json, type RunRow } from "./helpers/http";
import { TEST_NAMESPACE as NS } from "./runtime/test-nodes";

const YEARLY = "0 0 1 1 *";
const DAY = 24 * 3600_000;

interface GraphResponse {
  validation_status: string;
  validation_errors: string[];
  triggers: unknown[];
  trigger_schedule: { expression: string; next_fire_at: string }[];
}

const namespaceActor = () => env.NAMESPACE.getByName(NS);

const graphBody = (triggers: string[], extra: Record<string, unknown> = {}) => ({
  secrets: {},
  nodes: [{ node_name: "SignalNode", namespace: NS, identifier: "tick", inputs: { value: "tick" } }],
  triggers: triggers.map((expression) => ({ type: "CRON", value: { expression } })),
  ...extra,
});

async function upsert(graph: string, body: Record<string, unknown>) {
  const res = await json<GraphResponse>("PUT", `/v0/namespace/${NS}/graph/${graph}`, body);
  expect(res.status).toBe(201);
  return res.body;
}

async function getGraph(graph: string) {
  const res = await json<GraphResponse>("GET", `/v0/namespace/${NS}/graph/${graph}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function runsOf(graph: string): Promise<RunRow[]> {
  const { body } = await json<{ runs: RunRow[] }>("GET", `/v0/namespace/${NS}/runs/1/1000`);
  return body.runs.filter((r) => r.graph_name === graph);
}

/** The graph's stored schedules (expression → next fire time, epoch ms). */
function schedules(graph: string): Promise<Record<string, number>> {
  return runInDurableObject(namespaceActor(), async (_a, state) =>
    Object.fromEntries(
      state.storage.sql
        .exec<{ expression: string; next_fire_at: number }>(
          "SELECT expression, next_fire_at FROM cron_schedules WHERE graph_name = ?",
          graph,
        )
        .toArray()
        .map((r) => [r.expression, r.next_fire_at]),
    ),
  );
}

/** Moves every schedule of the graph to `at` (a past time makes it due). */
async function setNextFire(graph: string, at: number) {
  await runInDurableObject(namespaceActor(), async (_a, state) => {
    state.storage.sql.exec("UPDATE cron_schedules SET next_fire_at = ? WHERE graph_name = ?", at, graph);
  });
}

/** The first midnight of a January 1st strictly after `ms`, UTC. */
const nextNewYear = (ms: number) => Date.UTC(new Date(ms).getUTCFullYear() + 1, 0, 1);

describe("cron triggers", () => {
  it("shows the schedule and starts one run when the alarm finds it due", async () => {
    const graph = fresh("cron");
    const before = Date.now();
    const upserted = await upsert(graph, graphBody([YEARLY]));
    expect(upserted.validation_status).toBe("VALID");
    const expected = [{ expression: YEARLY, next_fire_at: new Date(nextNewYear(before)).toISOString() }];
    expect(upserted.trigger_schedule).toEqual(expected);
    const shown = await getGraph(graph);
    expect(shown.triggers).toEqual([{ type: "CRON", value: { expression: YEARLY } }]);
    expect(shown.trigger_schedule).toEqual(expected);
    // The actor is armed no later than the schedule.
    const armed = await runInDurableObject(namespaceActor(), (_a, state) => state.storage.getAlarm());
    expect(armed).not.toBeNull();
    expect(armed ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(nextNewYear(before));

    // An alarm before the time fires nothing.
    expect(await runDurableObjectAlarm(namespaceActor())).toBe(true);
    expect(await runsOf(graph)).toEqual([]);

    await setNextFire(graph, Date.now() - 1000);
    expect(await runDurableObjectAlarm(namespaceActor())).toBe(true);
    const runs = await runsOf(graph);
    expect(runs).toHaveLength(1);
    await vi.waitUntil(async () => (await runsOf(graph))[0]?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 20,
    });
    // Re-armed for the next occurrence, and the alarm is set for it.
    expect((await getGraph(graph)).trigger_schedule).toEqual(expected);
    expect(
      await runInDurableObject(namespaceActor(), (_a, state) => state.storage.getAlarm()),
    ).not.toBeNull();
  });

  it("fires once after several missed windows, not once per window", async () => {
    const graph = fresh("cron-missed");
    await upsert(graph, graphBody([YEARLY]));
    // Five yearly windows missed, as after a long downtime.
    await setNextFire(graph, Date.now() - 5 * 366 * DAY);
    const now = Date.now();
    expect(await runDurableObjectAlarm(namespaceActor())).toBe(true);
    expect(await runsOf(graph)).toHaveLength(1);
    // The schedule moved past now in one step; another alarm finds nothing due.
    expect((await schedules(graph))[YEARLY]).toBe(nextNewYear(now));
    await runDurableObjectAlarm(namespaceActor());
    expect(await runsOf(graph)).toHaveLength(1);
  });

  it("keeps one schedule when the same expression is upserted again", async () => {
    const graph = fresh("cron-again");
    await upsert(graph, graphBody([YEARLY]));
    // A marker time: if the row were recreated, it would be back at the next New Year.
    const marker = Date.now() + 1234 * DAY;
    await setNextFire(graph, marker);
    await upsert(graph, graphBody([YEARLY, ` ${YEARLY} `]));
    expect(await schedules(graph)).toEqual({ [YEARLY]: marker });

    await setNextFire(graph, Date.now() - 1000);
    await runDurableObjectAlarm(namespaceActor());
    expect(await runsOf(graph)).toHaveLength(1);
  });

  it("stops firing when the trigger is removed, even if it was due", async () => {
    const graph = fresh("cron-removed");
    await upsert(graph, graphBody([YEARLY, "0 12 1 1 *"]));
    await setNextFire(graph, Date.now() - 1000);
    const updated = await upsert(graph, graphBody(["0 12 1 1 *"]));
    expect(updated.trigger_schedule.map((s) => s.expression)).toEqual(["0 12 1 1 *"]);
    await upsert(graph, graphBody([]));
    expect((await getGraph(graph)).trigger_schedule).toEqual([]);
    expect(await schedules(graph)).toEqual({});
    await runDurableObjectAlarm(namespaceActor());
    expect(await runsOf(graph)).toEqual([]);
  });

  it("schedules only VALID versions: an INVALID upsert removes the schedule, a VALID one restores it", async () => {
    const graph = fresh("cron-invalid");
    await upsert(graph, graphBody([YEARLY]));
    await setNextFire(graph, Date.now() - 1000);
    const invalid = await upsert(graph, {
      ...graphBody([YEARLY]),
      nodes: [{ node_name: "NoSuchNode", namespace: NS, identifier: "tick", inputs: {} }],
    });
    expect(invalid.validation_status).toBe("INVALID");
    expect(invalid.trigger_schedule).toEqual([]);
    await runDurableObjectAlarm(namespaceActor());
    expect(await runsOf(graph)).toEqual([]);

    const before = Date.now();
    const valid = await upsert(graph, graphBody([YEARLY]));
    expect(valid.trigger_schedule).toEqual([
      { expression: YEARLY, next_fire_at: new Date(nextNewYear(before)).toISOString() },
    ]);
  });

  it("arms the triggers of VALID graphs stored before schedules existed (schema version 1)", async () => {
    const graph = fresh("cron-upgrade");
    const before = Date.now();
    await upsert(graph, graphBody([YEARLY]));
    const upgraded = await runInDurableObject(namespaceActor(), async (actor, state) => {
      state.storage.sql.exec("DELETE FROM cron_schedules WHERE graph_name = ?", graph);
      state.storage.sql.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
      // The constructor runs this once per actor start; called directly to upgrade this instance.
      return (actor as unknown as { migrate(): boolean }).migrate();
    });
    expect(upgraded).toBe(true);
    expect(await schedules(graph)).toEqual({ [YEARLY]: nextNewYear(before) });
  });

  it("logs a fire that cannot start a run and still moves the schedule on", async () => {
    const graph = fresh("cron-store");
    // An empty trigger body never carries the required key, so every fire is refused.
    await upsert(graph, graphBody([YEARLY], { store_config: { required_keys: ["tenant"] } }));
    await setNextFire(graph, Date.now() - 1000);
    const now = Date.now();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      expect(await runDurableObjectAlarm(namespaceActor())).toBe(true);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining("Missing store keys: {'tenant'}"));
    } finally {
      warn.mockRestore();
    }
    expect(await runsOf(graph)).toEqual([]);
    expect((await schedules(graph))[YEARLY]).toBe(nextNewYear(now));
    const pendingFires = await runInDurableObject(
      namespaceActor(),
      async (_a, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM cron_fires").one().n,
    );
    expect(pendingFires).toBe(0);
  });
});
