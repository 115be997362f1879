// Triggers are atomic (a listed run always comes to exist, even when the namespace actor dies between
// recording it and starting it) and idempotent (an `Idempotency-Key` answers the first request's run).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { namespaceStub } from "../../src/actors/namespace-actor";
import { IDEMPOTENCY_KEY_TTL_MS, MAX_IDEMPOTENCY_KEY_CHARS } from "../../src/engine/limits";
import {
  call,
  fresh,
  type RunRow,
  runRow,
  runStub,
  settled,
  triggerRun,
  upsertValid as upsertValidGraph,
} from "./helpers/http";
import { node, registerPull, statesOf, upsertValid } from "./helpers/pull";

/** A namespace with a VALID one-node pull graph `g` (nothing runs it: its root stays CREATED). */
async function oneNodeGraph(): Promise<string> {
  const ns = fresh("trig");
  await registerPull(ns, [{ name: "P", inputs: ["v"] }]);
  await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
  return ns;
}

const runsOf = async (ns: string) => {
  const res = await call("GET", `/v0/namespace/${ns}/runs/1/100`);
  expect(res.status).toBe(200);
  return (await res.json()) as { total: number; runs: RunRow[] };
};

const pendingStarts = (ns: string) =>
  runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) =>
    state.storage.sql.exec<{ run_id: string }>("SELECT run_id FROM run_starts").toArray(),
  );

async function triggerWithKey(ns: string, key: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, body, { "idempotency-key": key });
  return {
    status: res.status,
    replayed: res.headers.get("idempotent-replayed"),
    body: (await res.json()) as { status?: string; run_id?: string; detail?: unknown },
  };
}

describe("a trigger is atomic", () => {
  it("lists a run whose start never happened as PENDING, and the namespace actor's alarm starts it", async () => {
    const ns = await oneNodeGraph();
    // The first half of a trigger, as if the actor died right after it: indexed, start pending.
    const prepared = await namespaceStub(env, ns).prepareRun(ns, "g", {
      store: {},
      inputs: {},
      start_delay: 0,
    });
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.error));
    const runId = prepared.value.run_id;
    expect(await runStub(runId).summary()).toBeNull();
    expect(await runRow(ns, runId)).toMatchObject({ status: "PENDING", total_count: 0 });
    expect(await pendingStarts(ns)).toEqual([{ run_id: runId }]);

    // The alarm is armed for the repair; make it due now (deterministic time) and fire it.
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec("UPDATE run_starts SET retry_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
    expect(await pendingStarts(ns)).toEqual([]);
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["CREATED"]);
    expect(await runRow(ns, runId)).toMatchObject({ status: "PENDING", pending_count: 1, total_count: 1 });
  });

  it("takes a run that cannot be started out of the list after the last retry, logging why", async () => {
    const ns = await oneNodeGraph();
    const prepared = await namespaceStub(env, ns).prepareRun(ns, "g", {
      store: {},
      inputs: {},
      start_delay: 0,
    });
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.error));
    // A start that fails every time (a record no start can use), at its last retry.
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec(
        "UPDATE run_starts SET bootstrap = 'not json', attempts = 5, retry_at = ?",
        Date.now() - 1,
      );
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining("giving up after 6 failed starts"));
    } finally {
      logged.mockRestore();
    }
    expect(await pendingStarts(ns)).toEqual([]);
    expect(await runsOf(ns)).toMatchObject({ total: 0, runs: [] });
  });

  it("keeps a started run listed when the repairs of its start keep failing", async () => {
    const ns = await oneNodeGraph();
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, { start_delay: 60_000 });
    const { run_id: runId } = (await res.json()) as { run_id: string };
    // Covered, and every repair fails (a record no call can use): first one, then the last one.
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec("UPDATE run_starts SET bootstrap = 'not json', retry_at = ?", Date.now() - 1);
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
      // Failed once: still a started run, not one waiting for its start.
      expect((await runsOf(ns)).runs[0]?.starting).toBeUndefined();
      await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
        state.storage.sql.exec("UPDATE run_starts SET attempts = 5, retry_at = ?", Date.now() - 1);
      });
      expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
      expect(logged).toHaveBeenCalledWith(
        expect.stringContaining("failed repairs of its start (it stays listed)"),
      );
    } finally {
      logged.mockRestore();
    }
    expect(await pendingStarts(ns)).toEqual([]);
    expect(await runsOf(ns)).toMatchObject({ total: 1, runs: [{ run_id: runId }] });
  });

  it("starts the run of a cron fire recorded by an earlier version (its bootstrap kept in the fire)", async () => {
    const ns = await oneNodeGraph();
    const prepared = await namespaceStub(env, ns).prepareRun(ns, "g", {
      store: {},
      inputs: {},
      start_delay: 0,
    });
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.error));
    const runId = prepared.value.run_id;
    // Schema version 3 kept an indexed, unstarted run in its fire row, not in run_starts.
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec("DELETE FROM run_starts");
      state.storage.sql.exec(
        `INSERT INTO cron_fires (graph_name, expression, scheduled_at, bootstrap, attempts, retry_at)
         VALUES ('g', '0 0 1 1 *', ?, ?, 0, ?)`,
        Date.now() - 1,
        JSON.stringify(prepared.value),
        Date.now() - 1,
      );
    });
    expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["CREATED"]);
    // Started under the cover of the start record it was given (kept until its repair), not starting.
    expect(await pendingStarts(ns)).toEqual([{ run_id: runId }]);
    expect(await runsOf(ns)).toMatchObject({ total: 1, runs: [{ run_id: runId }] });
    expect((await runsOf(ns)).runs[0]?.starting).toBeUndefined();
  });

  it("keeps a started run's record as its cover until the repair, which arms the run actor's alarm", async () => {
    const ns = await oneNodeGraph();
    const trigger = async () => {
      // Due in a minute: the root needs the run actor's alarm, at a time the start record covers.
      const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, { start_delay: 60_000 });
      expect(res.status).toBe(200);
      return ((await res.json()) as { run_id: string }).run_id;
    };
    const runAlarm = (runId: string) =>
      runInDurableObject(runStub(runId), (_actor, state) => state.storage.getAlarm());
    const [first, second] = [await trigger(), await trigger()];
    expect((await runStub(first).summary())?.run_id).toBe(first);
    // Started, so not listed as starting; each record stays as the run's cover, and the run actors wrote
    // no alarm for their roots: the repair comes first.
    expect((await runsOf(ns)).runs.map((r) => r.starting)).toEqual([undefined, undefined]);
    expect((await pendingStarts(ns)).map((r) => r.run_id).sort()).toEqual([first, second].sort());
    expect(await runAlarm(first)).toBeNull();
    // Due: the alarm repairs both at once, each run actor arms its own alarm, and the records go.
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec("UPDATE run_starts SET retry_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(env.NAMESPACE.getByName(ns))).toBe(true);
    expect(await pendingStarts(ns)).toEqual([]);
    expect(await runAlarm(first)).toBeGreaterThan(Date.now() + 50_000);
    expect(await runAlarm(second)).toBeGreaterThan(Date.now() + 50_000);
    expect((await runsOf(ns)).total).toBe(2);
  });
});

describe("the cover of a start record", () => {
  const runAlarm = (runId: string) =>
    runInDurableObject(runStub(runId), (_actor, state) => state.storage.getAlarm());

  it("lets a run that finishes within it end without ever writing an alarm", async () => {
    const graph = fresh("covered");
    await upsertValidGraph("examples", graph, splitProcessMergeGraph);
    // One item: the tests' configuration spreads any wider fan-out over branch shards, whose protocol
    // asks for alarms of its own (a unite gathering its inputs).
    const runId = await triggerRun("examples", graph, { inputs: { data: "[1]", chunk_size: "1" } });
    expect(await settled("examples", runId)).toMatchObject({ status: "SUCCESS", success_count: 3 });
    // Its deliveries were watched by the cover, not by an alarm that would have woken a finished run.
    expect(await runAlarm(runId)).toBeNull();
  });

  it("still writes an alarm the run needs before the cover ends", async () => {
    const ns = await oneNodeGraph();
    const before = Date.now();
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, { start_delay: 1_000 });
    expect(res.status).toBe(200);
    const { run_id: runId } = (await res.json()) as { run_id: string };
    const armed = await runAlarm(runId);
    expect(armed).toBeGreaterThanOrEqual(before + 1_000);
    expect(armed).toBeLessThan(before + 5_000);
  });
});

describe("Idempotency-Key on triggers", () => {
  it("answers the first run's id to the same key, and starts no second run", async () => {
    const ns = await oneNodeGraph();
    const first = await triggerWithKey(ns, "order-42", { inputs: { v: "1" } });
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    // The same request, its maps in another order.
    const again = await triggerWithKey(ns, "order-42", { inputs: { v: "1" }, store: {}, start_delay: 0 });
    expect(again).toEqual({ status: 200, replayed: "true", body: first.body });
    const runs = await runsOf(ns);
    expect(runs.total).toBe(1);
    expect(runs.runs.map((r) => r.run_id)).toEqual([first.body.run_id]);

    const other = await triggerWithKey(ns, "order-43", { inputs: { v: "1" } });
    expect(other.body.run_id).not.toBe(first.body.run_id);
    expect((await runsOf(ns)).total).toBe(2);
  });

  it("starts one run for two concurrent requests with the same key", async () => {
    const ns = await oneNodeGraph();
    const answers = await Promise.all([triggerWithKey(ns, "same"), triggerWithKey(ns, "same")]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[0]?.body.run_id).toBe(answers[1]?.body.run_id);
    expect((await runsOf(ns)).total).toBe(1);
  });

  it("refuses a key reused for a different request with 422, and starts nothing", async () => {
    const ns = await oneNodeGraph();
    await triggerWithKey(ns, "k1", { inputs: { v: "1" } });
    const reused = await triggerWithKey(ns, "k1", { inputs: { v: "2" } });
    expect(reused.status).toBe(422);
    expect(reused.body.detail).toEqual([
      expect.objectContaining({ type: "value_error", loc: ["header", "idempotency-key"], input: "k1" }),
    ]);
    expect((await runsOf(ns)).total).toBe(1);
  });

  it("refuses a malformed key with 422 before anything happens", async () => {
    const ns = await oneNodeGraph();
    for (const key of ["x".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1), "with space", " "]) {
      const res = await triggerWithKey(ns, key);
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([expect.objectContaining({ loc: ["header", "idempotency-key"] })]);
    }
    expect((await runsOf(ns)).total).toBe(0);
  });

  it("starts a new run for a key older than 24 hours", async () => {
    const ns = await oneNodeGraph();
    const first = await triggerWithKey(ns, "daily");
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec(
        "UPDATE trigger_keys SET created_at = ?",
        Date.now() - IDEMPOTENCY_KEY_TTL_MS - 1,
      );
    });
    const later = await triggerWithKey(ns, "daily");
    expect(later.status).toBe(200);
    expect(later.replayed).toBeNull();
    expect(later.body.run_id).not.toBe(first.body.run_id);
    expect((await runsOf(ns)).total).toBe(2);
  });
});
