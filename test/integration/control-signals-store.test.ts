// Signals (prune, requeue) and the per-run store, end to end through the test runtime Worker and its queue
// (namespace "ctl").

import { describe, expect, it } from "vitest";
import { fresh, json, runStub, settled, stateRows, triggerRun, upsertValid } from "./helpers/http";
import { ctlNode, TEST_NAMESPACE as NS } from "./runtime/test-nodes";

interface StateRecord {
  seq: number;
  identifier: string;
  status: string;
  retry_count: number;
  outputs: string;
}

const states = (runId: string) => stateRows<StateRecord>(runId);

const outputValues = (all: StateRecord[], identifier: string) =>
  all
    .filter((s) => s.identifier === identifier)
    .map((s) => [s.status, (JSON.parse(s.outputs) as { value?: string }).value]);

describe("signals", () => {
  it("prunes some branches; both unite strategies run without them", async () => {
    const graph = fresh("prune");
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode(
          "list",
          "ListNode",
          { items: JSON.stringify(["a", "prune", "b", "prune"]) },
          { next_nodes: ["work"] },
        ),
        ctlNode(
          "work",
          "SignalNode",
          { value: "${{ list.outputs.value }}" },
          { next_nodes: ["strict", "lenient"] },
        ),
        ctlNode(
          "strict",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          { unites: { identifier: "list", strategy: "ALL_SUCCESS" } },
        ),
        ctlNode(
          "lenient",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          { unites: { identifier: "list", strategy: "ALL_DONE" } },
        ),
      ],
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    // 4 list states, 4 work states (2 pruned), 2 unites; a prune is a normal end of a branch.
    expect(row).toMatchObject({ status: "SUCCESS", errored_count: 0, total_count: 10 });

    const all = await states(runId);
    expect(all.filter((s) => s.status === "PRUNED").map((s) => s.identifier)).toEqual(["work", "work"]);
    const united = JSON.stringify(["a", "b"]);
    expect(outputValues(all, "strict")).toEqual([["SUCCESS", united]]);
    expect(outputValues(all, "lenient")).toEqual([["SUCCESS", united]]);
  });

  it("requeues the same state twice, then it succeeds", async () => {
    const graph = fresh("requeue");
    await upsertValid(NS, graph, {
      nodes: [ctlNode("poll", "SignalNode", { value: `requeue:${fresh("rq")}:2` })],
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    expect(row).toMatchObject({ status: "SUCCESS", total_count: 1, retried_count: 0 });

    // One state, never replaced: same id, retry budget untouched, dispatched three times.
    const all = await states(runId);
    expect(all.map((s) => [s.seq, s.status, s.retry_count])).toEqual([[all[0]?.seq, "SUCCESS", 0]]);
    const view = await json<{ nodes: { id: string; status: string }[] }>(
      "GET",
      `/v0/namespace/${NS}/states/run/${runId}/graph`,
    );
    expect(view.body.nodes).toHaveLength(1);
    expect((await runStub(runId).costs()).queueMessages).toBe(3);
  });
});

describe("store", () => {
  const storeGraph = () => ({
    nodes: [
      ctlNode("root", "SignalNode", { value: "${{ store.greeting }}" }, { next_nodes: ["child"] }),
      ctlNode("child", "SignalNode", { value: "${{ store.tenant }}:${{ root.outputs.value }}" }),
    ],
    store_config: { required_keys: ["tenant"], default_values: { greeting: "hi" } },
  });

  it("refuses a trigger without a required key", async () => {
    const graph = fresh("store-req");
    await upsertValid(NS, graph, storeGraph());
    const res = await json("POST", `/v0/namespace/${NS}/graph/${graph}/trigger`, {
      store: { greeting: "x" },
    });
    expect(res).toEqual({ status: 400, body: { detail: "Missing store keys: {'tenant'}" } });
  });

  it("gives each run its own values, with defaults for keys it did not set", async () => {
    const graph = fresh("store-runs");
    await upsertValid(NS, graph, storeGraph());
    const [a, b] = await Promise.all([
      triggerRun(NS, graph, { store: { tenant: "acme" } }),
      triggerRun(NS, graph, { store: { tenant: "globex", greeting: "hello" } }),
    ]);
    await Promise.all([settled(NS, a ?? ""), settled(NS, b ?? "")]);
    expect(outputValues(await states(a ?? ""), "child")).toEqual([["SUCCESS", "acme:hi"]]);
    expect(outputValues(await states(b ?? ""), "child")).toEqual([["SUCCESS", "globex:hello"]]);
  });
});
