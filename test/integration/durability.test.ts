// Invariant 1 (design §5): a restart of every actor mid-run loses nothing; the run resumes from
// storage (ready states, alarms, leases) and finishes with exact counts.
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { fresh, json, runRow, settled, triggerRun, upsertValid } from "./helpers/http";

describe("restarts", () => {
  it("finishes a fan-out with exact counts after every actor is aborted mid-run", async () => {
    const graph = fresh("restart");
    const up = await json("PUT", `/v0/namespace/examples/graph/${graph}`, splitProcessMergeGraph);
    expect(up.body.validation_status).toBe("VALID");
    const n = 2_000;
    const items = Array.from({ length: n }, (_, i) => i + 1);
    const trig = await json<{ run_id: string }>("POST", `/v0/namespace/examples/graph/${graph}/trigger`, {
      inputs: { data: JSON.stringify(items), chunk_size: "1" },
    });
    const runId = trig.body.run_id;
    // Wait until the fan-out exists and some branches are done, but not all.
    await vi.waitUntil(
      async () => {
        const row = await runRow("examples", runId);
        return row !== undefined && row.total_count > n && row.pending_count > 0;
      },
      { timeout: 30_000, interval: 20 },
    );
    await abortAllDurableObjects();
    await vi.waitUntil(async () => (await runRow("examples", runId))?.pending_count === 0, {
      timeout: 60_000,
      interval: 100,
    });
    const row = await runRow("examples", runId);
    expect(row).toMatchObject({
      status: "SUCCESS",
      success_count: 2 * n + 1,
      errored_count: 0,
      total_count: 2 * n + 1,
    });
    const view = (
      await json<{ nodes: { id: string; identifier: string }[] }>(
        "GET",
        `/v0/namespace/examples/states/run/${runId}/graph`,
      )
    ).body;
    const mergers = view.nodes.filter((x) => x.identifier === "merger");
    expect(mergers).toHaveLength(1);
    const merger = await json<{ outputs: { merged: string } }>(
      "GET",
      `/v0/namespace/examples/graph/${graph}/run/${runId}/node/${mergers[0]?.id}`,
    );
    expect(merger.body.outputs.merged).toBe(String((n * (n + 1)) / 2));
  });

  it("keeps a run's cost counters across a restart of its actors", async () => {
    const graph = fresh("costs");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    const n = 50;
    const runId = await triggerRun("examples", graph, {
      inputs: { data: JSON.stringify(Array.from({ length: n }, (_, i) => i + 1)), chunk_size: "1" },
    });
    expect((await settled("examples", runId))?.status).toBe("SUCCESS");
    const costsPath = `/v0/namespace/examples/states/run/${runId}/costs`;
    const before = (await json<Record<string, number>>("GET", costsPath)).body;
    expect(before.rowsWritten).toBeGreaterThan(4 * n);
    expect(before.reportRpcs).toBeGreaterThan(0);
    await abortAllDurableObjects();
    expect((await json<Record<string, number>>("GET", costsPath)).body).toEqual(before);
  });
});
