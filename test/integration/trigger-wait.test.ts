// A trigger that waits for its run to end (`wait_ms`, our extension): the answer carries the run's status
// once it ended, or PENDING when the wait ran out first; the wait is the request's, not the run's.
import { describe, expect, it } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { TriggerResult } from "../../src/api/schemas/responses";
import { MAX_TRIGGER_WAIT_MS } from "../../src/engine/limits";
import { call, fresh, runRow, runStub, triggerRun, upsertValid } from "./helpers/http";

const NS = "examples";

async function trigger(graph: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await call("POST", `/v0/namespace/${NS}/graph/${graph}/trigger`, body, headers);
  return { res, body: (await res.json()) as Record<string, unknown> };
}

async function seedGraph(): Promise<string> {
  const graph = fresh("wait");
  await upsertValid(NS, graph, splitProcessMergeGraph);
  return graph;
}

describe("a trigger with wait_ms", () => {
  it("answers once the run has ended, with its status, and the run is finished by then", async () => {
    const graph = await seedGraph();
    const { res, body } = await trigger(graph, {
      inputs: { data: "[1,2,3]", chunk_size: "1" },
      wait_ms: 15_000,
    });
    expect(res.status).toBe(200);
    const answer = TriggerResult.strict().parse(body);
    expect(answer).toMatchObject({ status: "CREATED", run_status: "SUCCESS" });
    // Nothing left to wait for: the list already shows the whole run.
    expect(await runRow(NS, answer.run_id)).toMatchObject({
      status: "SUCCESS",
      success_count: 7,
      pending_count: 0,
      total_count: 7,
    });
  });

  it("answers PENDING when the wait runs out first; the run goes on", async () => {
    const graph = await seedGraph();
    const { res, body } = await trigger(graph, {
      inputs: { data: "[1]", chunk_size: "1" },
      start_delay: 60_000,
      wait_ms: 50,
    });
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status: "CREATED", run_status: "PENDING" });
    expect(await runRow(NS, body.run_id as string)).toMatchObject({ status: "PENDING", total_count: 1 });
  });

  it("is answered by any end of the run (a cancel here)", async () => {
    const graph = await seedGraph();
    const runId = await triggerRun(NS, graph, {
      inputs: { data: "[1]", chunk_size: "1" },
      start_delay: 60_000,
    });
    const ended = runStub(runId).awaitEnd(15_000);
    const cancel = await call("POST", `/v0/namespace/${NS}/states/run/${runId}/cancel`);
    expect(cancel.status).toBe(200);
    expect(await ended).toBe("CANCELLED");
  });

  it("keeps Exosphere's answer without it", async () => {
    const graph = await seedGraph();
    const { body } = await trigger(graph, { inputs: { data: "[1]", chunk_size: "1" }, start_delay: 60_000 });
    expect(Object.keys(body).sort()).toEqual(["run_id", "status"]);
  });

  it("refuses a wait out of bounds with 422, and starts nothing", async () => {
    const graph = await seedGraph();
    for (const wait_ms of [-1, MAX_TRIGGER_WAIT_MS + 1, 1.5, "soon"]) {
      const { res, body } = await trigger(graph, { inputs: { data: "[1]", chunk_size: "1" }, wait_ms });
      expect(res.status).toBe(422);
      expect(JSON.stringify(body.detail)).toContain("wait_ms");
    }
    const runs = await call("GET", `/v0/namespace/${NS}/runs/1/1000`);
    const listed = ((await runs.json()) as { runs: { graph_name: string }[] }).runs;
    expect(listed.filter((r) => r.graph_name === graph)).toEqual([]);
  });

  it("is not part of the request an Idempotency-Key stands for", async () => {
    const graph = await seedGraph();
    const key = { "idempotency-key": fresh("order") };
    const inputs = { data: "[1]", chunk_size: "1" };
    const first = await trigger(graph, { inputs, start_delay: 60_000 }, key);
    const again = await trigger(graph, { inputs, start_delay: 60_000, wait_ms: 10 }, key);
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toMatchObject({ run_id: first.body.run_id, run_status: "PENDING" });
  });
});
