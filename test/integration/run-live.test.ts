// The live run view (our extension): a run's nodes with their states counted by status, summed over the
// run actor and its branch shards, once (`.../nodes`) or as server-sent events that follow the run.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { readEvents } from "../../src/client/sse";
import type { RunNodesView } from "../../src/contracts";
import { actorName, runKeyOfRunId } from "../../src/engine/ids";
import { call, fresh, json, runStub, settled, triggerRun, upsertValid } from "./helpers/http";
import { enqueue, node, registerPull, report, trigger } from "./helpers/pull";

const nodesPath = (ns: string, runId: string) => `/v0/namespace/${ns}/states/run/${runId}/nodes`;
const eventsPath = (ns: string, runId: string) => `/v0/namespace/${ns}/states/run/${runId}/events`;

const byIdentifier = (view: RunNodesView) => Object.fromEntries(view.nodes.map((n) => [n.identifier, n]));

/** A pull graph a → b in a fresh namespace, triggered: nothing runs until the test reports. */
async function pullRun() {
  const ns = fresh("live");
  await registerPull(ns, [
    { name: "A", outputs: ["v"] },
    { name: "B", inputs: ["v"] },
  ]);
  await upsertValid(ns, "g", {
    nodes: [node(ns, "A", "a", {}, ["b"]), node(ns, "B", "b", { v: "${{ a.outputs.v }}" })],
    retry_policy: { max_retries: 0 },
  });
  return { ns, runId: await trigger(ns, "g") };
}

describe("GET .../states/run/{run_id}/nodes", () => {
  it("counts each node's states by status, over the run actor and its shards", async () => {
    const graph = fresh("live-merge");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    const items = Array.from({ length: 40 }, (_, i) => i + 1);
    const runId = await triggerRun("examples", graph, {
      inputs: { data: JSON.stringify(items), chunk_size: "1" },
    });
    const row = await settled("examples", runId, 60_000);
    const res = await json<RunNodesView>("GET", nodesPath("examples", runId));
    expect(res.status).toBe(200);
    const view = res.body;
    expect(view).toMatchObject({
      run_id: runId,
      graph_name: graph,
      namespace: "examples",
      status: "SUCCESS",
    });
    expect(view.total_count).toBe(row?.total_count);
    // The graph's three nodes, in template order, with their edges.
    expect(view.nodes.map((n) => [n.identifier, n.next_nodes, n.unites?.identifier ?? null])).toEqual([
      ["data_splitter", ["processor"], null],
      ["processor", ["merger"], null],
      ["merger", [], "data_splitter"],
    ]);
    const nodes = byIdentifier(view);
    expect(nodes.data_splitter?.states.SUCCESS).toBe(40);
    expect(nodes.processor?.states.SUCCESS).toBe(40);
    expect(nodes.merger?.states).toMatchObject({ SUCCESS: 1, CREATED: 0, ERRORED: 0 });
    expect(view.nodes.reduce((sum, n) => sum + n.total, 0)).toBe(81);
    // Branches from output 2 on live in shards; the run actor's answer adds theirs to its own.
    const shard1 = await env.RUN.getByName(actorName(runKeyOfRunId(runId) ?? "", 1)).nodeCounts();
    expect(shard1.processor?.SUCCESS ?? 0).toBeGreaterThan(0);
    expect(shard1.processor?.SUCCESS ?? 0).toBeLessThan(40);
    expect((await runStub(runId).nodeCounts()).processor?.SUCCESS).toBe(40);
  });

  it("shows a waiting run as PENDING with its ready state counted", async () => {
    const { ns, runId } = await pullRun();
    const view = (await json<RunNodesView>("GET", nodesPath(ns, runId))).body;
    expect(view.status).toBe("PENDING");
    expect(byIdentifier(view).a?.states.CREATED).toBe(1);
    expect(byIdentifier(view).b?.total).toBe(0);
  });

  it("answers 404 for an unknown run, a malformed id, or a run of another namespace", async () => {
    const { ns, runId } = await pullRun();
    expect((await call("GET", nodesPath(ns, crypto.randomUUID()))).status).toBe(404);
    expect((await call("GET", nodesPath(ns, "not-a-run"))).status).toBe(404);
    const other = await json("GET", nodesPath(fresh("other"), runId));
    expect(other).toEqual({ status: 404, body: { detail: `Run ${runId} not found` } });
    expect((await call("GET", eventsPath(fresh("other"), runId))).status).toBe(404);
  });

  it("needs the API key", async () => {
    const { ns, runId } = await pullRun();
    expect((await call("GET", nodesPath(ns, runId), undefined, { "x-api-key": "wrong" })).status).toBe(401);
    expect((await call("GET", eventsPath(ns, runId), undefined, { "x-api-key": "wrong" })).status).toBe(401);
  });
});

describe("GET .../states/run/{run_id}/events", () => {
  it("sends the run's view when it changes and ends when the run stops", async () => {
    const { ns, runId } = await pullRun();
    const res = await call("GET", eventsPath(ns, runId));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = readEvents(res.body as ReadableStream<Uint8Array>);

    const first = await events.next();
    expect(first.value?.event).toBe("progress");
    const view0 = JSON.parse(first.value?.data ?? "{}") as RunNodesView;
    expect(view0.status).toBe("PENDING");
    expect(byIdentifier(view0).a?.states.CREATED).toBe(1);

    // The run moves on while the stream is open: a runs, fans out to two b's, both succeed.
    const [a] = await enqueue(ns, ["A"], 1);
    expect(
      (await report(ns, a?.state_id ?? "", "executed", { outputs: [{ v: "1" }, { v: "2" }] })).status,
    ).toBe(200);
    const bs = await enqueue(ns, ["B"], 2);
    expect(bs).toHaveLength(2);
    for (const b of bs)
      expect((await report(ns, b.state_id, "executed", { outputs: [{}] })).status).toBe(200);

    const seen: RunNodesView[] = [view0];
    let end: { status: string } | undefined;
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (event.event === "progress") seen.push(JSON.parse(event.data) as RunNodesView);
      if (event.event === "end") {
        end = JSON.parse(event.data) as { status: string };
        break;
      }
    }
    expect(end).toEqual({ status: "SUCCESS" });
    const last = seen[seen.length - 1] as RunNodesView;
    expect(last.status).toBe("SUCCESS");
    expect(byIdentifier(last).b?.states.SUCCESS).toBe(2);
    // Only changes are sent: no two consecutive events carry the same view.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toEqual(seen[i - 1]);
  });

  it("ends at once for a run that already stopped", async () => {
    const { ns, runId } = await pullRun();
    const [a] = await enqueue(ns, ["A"], 1);
    await report(ns, a?.state_id ?? "", "errored", { error: "boom" });
    const res = await call("GET", eventsPath(ns, runId));
    const events = [];
    for await (const event of readEvents(res.body as ReadableStream<Uint8Array>)) events.push(event);
    expect(events.map((e) => e.event)).toEqual(["progress", "end"]);
    expect(JSON.parse(events[1]?.data ?? "{}")).toEqual({ status: "FAILED" });
    expect(byIdentifier(JSON.parse(events[0]?.data ?? "{}")).a?.states.ERRORED).toBe(1);
  });
});
