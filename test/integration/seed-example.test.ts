// The seed's example, end to end through the example runtime Worker and its queue.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { splitProcessGraph, splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { runKeyOfRunId } from "../../src/engine/ids";
import { fresh, json, settled, triggerRun, upsertValid } from "./helpers/http";

interface GraphView {
  nodes: { id: string; identifier: string; status: string }[];
  execution_summary: Record<string, number>;
}

async function mergerOutputs(graph: string, runId: string) {
  const view = (
    await json<GraphView>("GET", `/v0/namespace/examples/states/run/${runId}/graph?identifier=merger`)
  ).body;
  const mergers = view.nodes.filter((n) => n.identifier === "merger");
  return Promise.all(
    mergers.map(
      async (m) =>
        (
          await json<{ outputs: Record<string, string> }>(
            "GET",
            `/v0/namespace/examples/graph/${graph}/run/${runId}/node/${m.id}`,
          )
        ).body.outputs,
    ),
  );
}

describe("the seed's example graphs", () => {
  it("split → process runs one processor per chunk", async () => {
    const graph = fresh("split");
    await upsertValid("examples", graph, splitProcessGraph);
    const runId = await triggerRun("examples", graph, { inputs: { data: "[1,2,3,4,5]", chunk_size: "2" } });
    const row = await settled("examples", runId, 60_000);
    expect(row).toMatchObject({ status: "SUCCESS", success_count: 6, errored_count: 0, total_count: 6 });
  });

  it("merges 10,000 items once, with the right total", async () => {
    const graph = fresh("merge");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    const n = 10_000;
    const items = Array.from({ length: n }, (_, i) => i + 1);
    const runId = await triggerRun("examples", graph, {
      inputs: { data: JSON.stringify(items), chunk_size: "1" },
    });
    const row = await settled("examples", runId, 60_000);
    // n splitter states (head + clones), n processors, one merger.
    expect(row).toMatchObject({
      status: "SUCCESS",
      success_count: 2 * n + 1,
      errored_count: 0,
      total_count: 2 * n + 1,
    });
    expect(await mergerOutputs(graph, runId)).toEqual([{ merged: String((n * (n + 1)) / 2) }]);
    const key = runKeyOfRunId(runId) ?? "";
    const costs = await env.RUN.getByName(key).costs();
    // Batching works: far fewer sendBatch calls and report RPCs than states. The tests' tiny fan-out pages
    // (REPORT_PAGE_OUTPUTS) add one report per page of the split, and at most one dispatch round per page
    // in the run actor and in each branch shard (BRANCH_SHARDS) the page hands branches to.
    const pages = Math.ceil(n / Number(env.REPORT_PAGE_OUTPUTS));
    const actors = 1 + Number(env.BRANCH_SHARDS);
    expect(costs.sendBatchCalls).toBeLessThan(n / 100 + pages * actors);
    expect(costs.reportRpcs).toBeLessThan(n / 10 + pages);
  });

  it("reports bad input as a node error and fails the run", async () => {
    const graph = fresh("bad");
    await upsertValid("examples", graph, { ...splitProcessMergeGraph, retry_policy: { max_retries: 0 } });
    const runId = await triggerRun("examples", graph, { inputs: { data: "not json", chunk_size: "1" } });
    const row = await settled("examples", runId, 60_000);
    expect(row?.status).toBe("FAILED");
    expect(row?.errored_count).toBeGreaterThan(0);
  });
});
