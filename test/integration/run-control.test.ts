// Run control end to end (docs/control-features.md): cancelling a run (with branch shards), concurrency
// limits for push and pull nodes, tolerated failures in a unite across shards, and timeouts. The engine
// runs here with three branch shards from output 2 on, so every fan-out of three or more spans actors.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ShardCancels } from "../../src/actors/run-cancel";
import type { RunMeta } from "../../src/actors/run-meta";
import { migrateRunSchema } from "../../src/actors/run-schema";
import { actorName, runKeyOfRunId, shardOfSeq } from "../../src/engine/ids";
import { fresh, json, runRow, settled, stateRows, triggerRun, upsertValid } from "./helpers/http";
import {
  enqueue,
  node,
  registerPull,
  report,
  runStub,
  stateDetails,
  statesOf,
  trigger,
} from "./helpers/pull";
import { ctlNode, TEST_NAMESPACE as NS } from "./runtime/test-nodes";

interface Row {
  seq: number;
  identifier: string;
  status: string;
  inputs: string;
  outputs: string;
  error: string | null;
}

const cancel = (ns: string, runId: string) =>
  json<{ run_id?: string; status?: string; detail?: string }>(
    "POST",
    `/v0/namespace/${ns}/states/run/${runId}/cancel`,
  );

/** A pull run whose root fanned out to `n` branches of `Work` (pull), none claimed yet. */
async function pullFanOut(n: number, extra: Record<string, unknown> = {}) {
  const ns = fresh("rc");
  await registerPull(ns, [
    { name: "Fan", inputs: ["v"], outputs: ["v"] },
    { name: "Work", inputs: ["v"], outputs: ["v"] },
  ]);
  await upsertValid(ns, "g", {
    nodes: [
      node(ns, "Fan", "fan", { v: "x" }, ["work"]),
      { ...node(ns, "Work", "work", { v: "${{ fan.outputs.v }}" }), ...extra },
    ],
  });
  const runId = await trigger(ns, "g");
  const [root] = await enqueue(ns, ["Fan"], 1);
  const outputs = Array.from({ length: n }, (_, i) => ({ v: String(i) }));
  expect((await report(ns, root?.state_id ?? "", "executed", { outputs })).status).toBe(200);
  return { ns, runId };
}

describe("cancelling a run", () => {
  it("cancels waiting and claimed states in the run actor and its shards; late reports change nothing", async () => {
    const { ns, runId } = await pullFanOut(8);
    const claimed = await enqueue(ns, ["Work"], 3);
    expect(claimed).toHaveLength(3);

    expect(await cancel(ns, runId)).toEqual({ status: 200, body: { run_id: runId, status: "CANCELLED" } });
    // Idempotent.
    expect(await cancel(ns, runId)).toEqual({ status: 200, body: { run_id: runId, status: "CANCELLED" } });

    // Nothing is handed out any more, and a runtime's late report is refused and changes nothing.
    expect(await enqueue(ns, ["Work"], 10)).toEqual([]);
    await vi.waitUntil(async () => (await runRow(ns, runId))?.pending_count === 0, {
      timeout: 10_000,
      interval: 20,
    });
    const before = await runRow(ns, runId);
    expect(before).toMatchObject({
      status: "CANCELLED",
      pending_count: 0,
      cancelled_count: 8,
      success_count: 8,
    });
    const late = await report(ns, claimed[0]?.state_id ?? "", "executed", { outputs: [{ v: "late" }] });
    expect(late).toEqual({
      status: 409,
      body: { detail: "State is CANCELLED: its run was cancelled, so its report is refused" },
    });
    const lateError = await report(ns, claimed[1]?.state_id ?? "", "errored", { error: "late" });
    expect(lateError.status).toBe(409);
    expect(await runRow(ns, runId)).toEqual(before);

    // Every branch, in the run actor and in the shards, is CANCELLED, with its reason in the views.
    const work = (await statesOf(ns, runId)).filter((s) => s.identifier === "work");
    expect(work.map((s) => s.status)).toEqual(Array(8).fill("CANCELLED"));
    const runKey = runKeyOfRunId(runId) ?? "";
    const shardsWithWork = await Promise.all(
      [1, 2, 3].map((shard) =>
        runInDurableObject(
          env.RUN.getByName(actorName(runKey, shard)),
          (_a, state) =>
            state.storage.sql.exec("SELECT count(*) AS n FROM states WHERE identifier = 'work'").one().n,
        ),
      ),
    );
    expect(shardsWithWork.some((n) => Number(n) > 0)).toBe(true);
    const details = await stateDetails(ns, "g", runId, claimed[0]?.state_id ?? "");
    expect(details).toMatchObject({ status: "CANCELLED" });
    expect(details.error).toMatch(/Run cancelled/);
    const nodes = await json<{
      status: string;
      nodes: { identifier: string; states: Record<string, number> }[];
    }>("GET", `/v0/namespace/${ns}/states/run/${runId}/nodes`);
    expect(nodes.status).toBe(200);
    expect(nodes.body.status).toBe("CANCELLED");
    expect(nodes.body.nodes.find((n) => n.identifier === "work")?.states.CANCELLED).toBe(8);
  });

  it("stops push work: a consumer's pickup or heartbeat of a cancelled state answers nothing to run", async () => {
    const graph = fresh("rc-push");
    const key = fresh("k");
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode("list", "ListNode", { items: JSON.stringify(["0", "1", "2"]) }, { next_nodes: ["count"] }),
        ctlNode("count", "CountingNode", { key, ms: "3000", item: "${{ list.outputs.value }}" }),
      ],
    });
    const runId = await triggerRun(NS, graph);
    // The three copies are running in the test runtime (each works for three seconds).
    await vi.waitUntil(
      async () =>
        (await stateRows<Row>(runId)).filter((r) => r.identifier === "count" && r.status === "QUEUED")
          .length === 3,
      { timeout: 10_000, interval: 10 },
    );
    const running = (await stateRows<Row>(runId)).filter((r) => r.identifier === "count");
    expect((await cancel(NS, runId)).status).toBe(200);

    // A consumer that picks these states up now (a delivery sent again, a heartbeat) is told to run none.
    const runKey = runKeyOfRunId(runId) ?? "";
    for (const shard of [0, 1, 2, 3]) {
      const mine = running.filter((r) => shardOfSeq(r.seq) === shard);
      if (mine.length === 0) continue;
      expect(
        await env.RUN.getByName(actorName(runKey, shard)).pickup(mine.map((r) => ({ seq: r.seq }))),
      ).toEqual([]);
    }
    const after = (await stateRows<Row>(runId)).filter((r) => r.identifier === "count");
    expect(after.map((r) => r.status)).toEqual(["CANCELLED", "CANCELLED", "CANCELLED"]);
    expect(await runRow(NS, runId)).toMatchObject({ status: "CANCELLED", pending_count: 0 });
  });

  it("answers 404 for an unknown run and 409 for a finished one", async () => {
    expect((await cancel(NS, crypto.randomUUID())).status).toBe(404);
    expect((await cancel(NS, "not-a-run")).status).toBe(404);

    const graph = fresh("rc-done");
    await upsertValid(NS, graph, { nodes: [ctlNode("only", "SignalNode", { value: "v" })] });
    const runId = await triggerRun(NS, graph);
    expect(await settled(NS, runId)).toMatchObject({ status: "SUCCESS" });
    const finished = await cancel(NS, runId);
    expect(finished.status).toBe(409);
    expect(finished.body.detail).toMatch(/already finished \(SUCCESS\)/);
    // Another namespace does not know the run.
    expect((await cancel("elsewhere", runId)).status).toBe(404);
  });
});

describe("telling the shards of a cancel", () => {
  it("tells again, from the alarm, a shard that could not be reached, until every shard confirmed", () =>
    runInDurableObject(env.RUN.getByName(`cancel-${crypto.randomUUID()}`), async (_a, state) => {
      const sql = state.storage.sql;
      migrateRunSchema(sql);
      const meta = { run_key: "0123456789abcdef", shard: 0 } as RunMeta;
      const told: number[] = [];
      const alarms: number[] = [];
      let shard2Down = true;
      const cancels = new ShardCancels({
        sql,
        meta: () => meta,
        peer: (name) => ({
          cancelShard: async (m: RunMeta) => {
            expect(name).toBe(actorName(meta.run_key, m.shard));
            if (m.shard === 2 && shard2Down) throw new Error("shard 2 unreachable");
            told.push(m.shard);
          },
        }),
        transact: (fn) => state.storage.transactionSync(fn),
        retryAt: (at) => alarms.push(at),
      });
      const pending = () =>
        sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'cancel_shards'").toArray()[0]?.value;
      state.storage.transactionSync(() => cancels.record(3));
      await cancels.send();
      expect(told.sort()).toEqual([1, 3]);
      expect(pending()).toBe("[2]");
      expect(alarms).toHaveLength(1);

      shard2Down = false;
      await cancels.send(); // what the alarm does
      expect(told.sort()).toEqual([1, 2, 3]);
      expect(pending()).toBeUndefined();
      await cancels.send(); // nothing left: nobody is told twice
      expect(told).toHaveLength(3);
    }));
});

describe("max_concurrency", () => {
  /** ListNode fans out `width` items to CountingNode (optionally limited); merge collects what each saw. */
  async function countingRun(width: number, limit?: number) {
    const graph = fresh("rc-conc");
    const key = fresh("k");
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode(
          "list",
          "ListNode",
          { items: JSON.stringify(Array.from({ length: width }, (_, i) => String(i))) },
          { next_nodes: ["count"] },
        ),
        ctlNode(
          "count",
          "CountingNode",
          { key, ms: "30", item: "${{ list.outputs.value }}" },
          { next_nodes: ["merge"], ...(limit === undefined ? {} : { max_concurrency: limit }) },
        ),
        ctlNode(
          "merge",
          "SignalNode",
          { value: "${{ count.outputs.value }}" },
          {
            unites: { identifier: "list", strategy: "ALL_SUCCESS" },
          },
        ),
      ],
    });
    const runId = await triggerRun(NS, graph);
    expect(await settled(NS, runId)).toMatchObject({ status: "SUCCESS", success_count: 2 * width + 1 });
    const merge = (await stateRows<Row>(runId)).find((r) => r.identifier === "merge");
    const seen = JSON.parse(JSON.parse(merge?.inputs ?? "{}").value) as string[];
    expect(seen).toHaveLength(width);
    return { runId, peak: Math.max(...seen.map(Number)) };
  }

  it("never runs more than max_concurrency copies of a push node at once in a run", async () => {
    // Without the limit the copies overlap (the check below would fail without it).
    expect((await countingRun(8)).peak).toBeGreaterThan(2);
    const { runId, peak } = await countingRun(8, 2);
    expect(peak).toBeLessThanOrEqual(2);
    // The limited fan-out was kept in the run actor: its shards hold nothing.
    const runKey = runKeyOfRunId(runId) ?? "";
    const shardRows = await runInDurableObject(
      env.RUN.getByName(actorName(runKey, 1)),
      (_a, state) =>
        state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'states'").toArray().length,
    );
    expect(shardRows).toBe(0);
  });

  it("hands a pull runtime no more than max_concurrency states of the node, then more as they finish", async () => {
    const { ns, runId } = await pullFanOut(5, { max_concurrency: 2 });
    const first = await enqueue(ns, ["Work"], 10);
    expect(first).toHaveLength(2);
    expect(await enqueue(ns, ["Work"], 10)).toEqual([]);
    expect((await report(ns, first[0]?.state_id ?? "", "executed", { outputs: [{ v: "a" }] })).status).toBe(
      200,
    );
    const next = await enqueue(ns, ["Work"], 10);
    expect(next).toHaveLength(1);
    expect(await enqueue(ns, ["Work"], 10)).toEqual([]);
    // The rest wait as CREATED in the run actor, not in the ready queue.
    const waiting = (await stateRows<Row>(runId)).filter(
      (r) => r.identifier === "work" && r.status === "CREATED",
    );
    expect(waiting).toHaveLength(2);
    for (const s of [first[1], next[0]]) {
      expect((await report(ns, s?.state_id ?? "", "executed", { outputs: [{ v: "b" }] })).status).toBe(200);
    }
    const last = await enqueue(ns, ["Work"], 10);
    expect(last).toHaveLength(2);
    for (const s of last) await report(ns, s.state_id, "executed", { outputs: [{ v: "c" }] });
    expect(await runRow(ns, runId)).toMatchObject({ status: "SUCCESS", pending_count: 0 });
  });
});

describe("tolerated failures", () => {
  async function tolerantRun(items: string[], unites: Record<string, unknown>) {
    const graph = fresh("rc-tol");
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode("list", "ListNode", { items: JSON.stringify(items) }, { next_nodes: ["work"] }),
        ctlNode("work", "FailNode", { value: "${{ list.outputs.value }}" }, { next_nodes: ["merge"] }),
        ctlNode(
          "merge",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          {
            unites: { identifier: "list", strategy: "ALL_SUCCESS", ...unites },
          },
        ),
      ],
      retry_policy: { max_retries: 0 },
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    const merge = (await stateRows<Row>(runId)).find((r) => r.identifier === "merge");
    return { row, merge };
  }

  it("runs the unite over the successful branches in fan-out order, across shards, and the run succeeds", async () => {
    const { row, merge } = await tolerantRun(["ok-0", "fail-1", "ok-2", "fail-3", "ok-4", "ok-5"], {
      tolerated_failure_count: 2,
    });
    expect(merge?.status).toBe("SUCCESS");
    expect(JSON.parse(JSON.parse(merge?.inputs ?? "{}").value)).toEqual(["ok-0", "ok-2", "ok-4", "ok-5"]);
    // The errored branches stay visible as ERRORED; the run does not fail for them.
    expect(row).toMatchObject({ status: "SUCCESS", errored_count: 2 });
  });

  it("fails the unite when the failures exceed the percentage, and the run fails", async () => {
    const { row, merge } = await tolerantRun(["ok-0", "fail-1", "ok-2", "fail-3", "ok-4"], {
      tolerated_failure_percentage: 20,
    });
    expect(merge?.status).toBe("ERRORED");
    expect(merge?.error).toMatch(/Unite barrier failed: 2 state\(s\)/);
    expect(row).toMatchObject({ status: "FAILED", errored_count: 3 });
  });

  it("refuses a negative count or a percentage above 100 at upsert with 422", async () => {
    for (const unites of [{ tolerated_failure_count: -1 }, { tolerated_failure_percentage: 150 }]) {
      const res = await json<{ detail: { loc: (string | number)[] }[] }>(
        "PUT",
        `/v0/namespace/${NS}/graph/${fresh("bad")}`,
        {
          secrets: {},
          nodes: [ctlNode("m", "SignalNode", { value: "v" }, { unites: { identifier: "x", ...unites } })],
        },
      );
      expect(res.status).toBe(422);
      expect(res.body.detail[0]?.loc.slice(0, 4)).toEqual(["body", "nodes", 0, "unites"]);
    }
    for (const extra of [{ max_concurrency: 0 }, { timeout_seconds: -5 }]) {
      const res = await json("PUT", `/v0/namespace/${NS}/graph/${fresh("bad")}`, {
        secrets: {},
        nodes: [ctlNode("m", "SignalNode", { value: "v" }, extra)],
      });
      expect(res.status).toBe(422);
    }
  });
});

describe("timeouts", () => {
  it("errors a push state that runs past timeout_seconds with a timeout reason, then retries it", async () => {
    const graph = fresh("rc-timeout");
    await upsertValid(NS, graph, {
      nodes: [ctlNode("hang", "HangNode", { value: "v" }, { timeout_seconds: 1 })],
      retry_policy: { max_retries: 1, strategy: "FIXED", backoff_factor: 1 },
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    expect(row).toMatchObject({ status: "FAILED", retried_count: 1, errored_count: 1 });
    const rows = await stateRows<Row>(runId);
    expect(rows.map((r) => r.status)).toEqual(["RETRY_CREATED", "ERRORED"]);
    for (const r of rows)
      expect(r.error).toBe("Timed out: the node ran longer than its timeout_seconds (1 s)");
  });

  it("leases a pull claim for timeout_seconds; its expiry errors the state with a timeout reason", async () => {
    const { ns, runId } = await pullFanOut(1, { timeout_seconds: 2 });
    const before = Date.now();
    const [claimed] = await enqueue(ns, ["Work"], 1);
    const lease = await runInDurableObject(
      runStub(runId),
      (_a, state) =>
        state.storage.sql.exec("SELECT lease_expires AS t FROM states WHERE status = 'QUEUED'").one().t,
    );
    expect(Number(lease)).toBeGreaterThanOrEqual(before + 2_000);
    expect(Number(lease)).toBeLessThan(before + 60_000); // not the five-minute pull lease
    expect(await runStub(runId).expireLeases(Date.now() + 3_000)).toBe(1);
    const details = await stateDetails(ns, "g", runId, claimed?.state_id ?? "");
    expect(details).toMatchObject({ status: "RETRY_CREATED" });
    expect(details.error).toBe("Timed out: the node ran longer than its timeout_seconds (2 s)");
  });
});
