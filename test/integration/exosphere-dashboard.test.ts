// Exosphere's own dashboard (its Next.js server routes, which call the state manager with the API key) is a
// real client of this API. Each test below makes the request one of its routes makes, with its headers,
// and checks the fields its components read, so the dashboard works against exoflare unchanged.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fresh, KEY } from "./helpers/http";
import { enqueue, node, registerPull, report, trigger, upsertValid } from "./helpers/pull";

/** A request as the dashboard's server routes send it: `X-API-Key` and a JSON content type, even on GET. */
async function dashboard(method: string, path: string, body?: unknown) {
  const res = await exports.default.fetch(
    new Request(`http://x${path}`, {
      method,
      headers: { "X-API-Key": KEY, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { ok: res.ok, status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A finished run with one errored state: a (pull) fans out to two b's, one of which fails. */
async function finishedRun() {
  const ns = fresh("dash");
  await registerPull(ns, [
    { name: "A", outputs: ["v"] },
    { name: "B", inputs: ["v"] },
  ]);
  await upsertValid(ns, "g", {
    nodes: [node(ns, "A", "a", {}, ["b"]), node(ns, "B", "b", { v: "${{ a.outputs.v }}" })],
    retry_policy: { max_retries: 0 },
  });
  const runId = await trigger(ns, "g");
  const [a] = await enqueue(ns, ["A"], 1);
  await report(ns, a?.state_id ?? "", "executed", { outputs: [{ v: "ok" }, { v: "bad" }] });
  const bs = await enqueue(ns, ["B"], 2);
  const bad = bs.find((b) => b.inputs.v === "bad");
  const good = bs.find((b) => b.inputs.v === "ok");
  await report(ns, good?.state_id ?? "", "executed", { outputs: [{}] });
  await report(ns, bad?.state_id ?? "", "errored", { error: "bad input" });
  return { ns, runId, failedId: bad?.state_id ?? "" };
}

describe("Exosphere's dashboard, route by route", () => {
  it("lists namespaces (api/namespaces)", async () => {
    const { ns } = await finishedRun();
    const res = await dashboard("GET", "/v0/namespaces");
    expect(res.ok).toBe(true);
    expect(res.body.namespaces).toContain(ns);
  });

  it("shows a namespace's nodes and graphs (api/namespace-overview)", async () => {
    const { ns } = await finishedRun();
    const nodes = await dashboard("GET", `/v0/namespace/${ns}/nodes/`);
    const graphs = await dashboard("GET", `/v0/namespace/${ns}/graphs/`);
    expect(nodes.body.nodes).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "A", inputs_schema: expect.any(Object) })]),
    );
    expect(graphs.body.templates).toEqual([
      expect.objectContaining({
        name: "g",
        namespace: ns,
        validation_status: "VALID",
        validation_errors: [],
        nodes: expect.any(Array),
      }),
    ]);
    // Its third call (`states/`) is no route of Exosphere's either: a 404, which the overview tolerates.
    expect((await dashboard("GET", `/v0/namespace/${ns}/states/`)).status).toBe(404);
  });

  it("opens a graph template (api/graph-template)", async () => {
    const { ns } = await finishedRun();
    const res = await dashboard("GET", `/v0/namespace/${ns}/graph/g`);
    expect(res.body).toMatchObject({ name: "g", namespace: ns, validation_status: "VALID", secrets: {} });
    expect((res.body.nodes as { next_nodes: string[] | null }[])[0]?.next_nodes).toEqual(["b"]);
    expect(typeof res.body.created_at).toBe("string");
  });

  it("lists runs with their counts (api/runs)", async () => {
    const { ns, runId } = await finishedRun();
    const res = await dashboard("GET", `/v0/namespace/${ns}/runs/1/20`);
    expect(res.body).toMatchObject({ total: 1, page: 1, size: 20 });
    expect(res.body.runs).toEqual([
      expect.objectContaining({
        run_id: runId,
        graph_name: "g",
        success_count: 3,
        pending_count: 0,
        errored_count: 1,
        total_count: 4,
        status: "FAILED",
        created_at: expect.any(String),
      }),
    ]);
  });

  it("draws a run's graph (api/graph-structure)", async () => {
    const { ns, runId, failedId } = await finishedRun();
    const res = await dashboard("GET", `/v0/namespace/${ns}/states/run/${runId}/graph`);
    const nodes = res.body.nodes as { id: string; node_name: string; identifier: string; status: string }[];
    expect(nodes).toHaveLength(4);
    expect(nodes.find((n) => n.id === failedId)).toMatchObject({ identifier: "b", status: "ERRORED" });
    const ids = new Set(nodes.map((n) => n.id));
    for (const edge of res.body.edges as { source: string; target: string }[]) {
      expect(ids.has(edge.source) && ids.has(edge.target)).toBe(true);
    }
    expect(res.body).toMatchObject({ graph_name: "g", node_count: 4, edge_count: 2 });
    expect(res.body.execution_summary).toMatchObject({ SUCCESS: 3, ERRORED: 1 });
  });

  it("shows a state and retries it (api/node-run-details, api/manual-retry-state)", async () => {
    const { ns, runId, failedId } = await finishedRun();
    const details = await dashboard("GET", `/v0/namespace/${ns}/graph/g/run/${runId}/node/${failedId}`);
    expect(details.body).toMatchObject({
      id: failedId,
      node_name: "B",
      identifier: "b",
      status: "ERRORED",
      inputs: { v: "bad" },
      outputs: {},
      error: "bad input",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(Object.keys(details.body.parents as object)).toEqual(["a"]);
    const retry = await dashboard("POST", `/v0/namespace/${ns}/state/${failedId}/manual-retry`, {
      fanout_id: crypto.randomUUID(),
    });
    expect(retry.ok).toBe(true);
    expect(retry.body).toMatchObject({ status: "CREATED", id: expect.any(String) });
  });
});
