// The run views (spec §2.17, §2.18) and at-least-once delivery, on a run of the test runtime.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { DispatchMessage } from "../../src/contracts/dispatch";
import { runKeyOfRunId } from "../../src/engine/ids";
import { INLINE_INPUTS_BYTES } from "../../src/engine/limits";
import { fresh, json, runRow } from "./helpers/http";

interface GraphNode {
  id: string;
  node_name: string;
  identifier: string;
  status: string;
  error: string | null;
}
interface GraphView {
  root_states: GraphNode[];
  graph_name: string;
  nodes: GraphNode[];
  edges: { source: string; target: string }[];
  node_count: number;
  edge_count: number;
  execution_summary: Record<string, number>;
}

/** list → echo for each item; a fresh graph in namespace "ctl". */
async function listThenEcho(items: string[]) {
  const graph = fresh("inspect");
  const up = await json("PUT", `/v0/namespace/ctl/graph/${graph}`, {
    secrets: {},
    nodes: [
      {
        node_name: "ListNode",
        namespace: "ctl",
        identifier: "list",
        inputs: { items: "[]" },
        next_nodes: ["echo"],
      },
      {
        node_name: "SignalNode",
        namespace: "ctl",
        identifier: "echo",
        inputs: { value: "${{ list.outputs.value }}" },
      },
    ],
  });
  expect(up.body.validation_status).toBe("VALID");
  const trig = await json<{ run_id: string }>("POST", `/v0/namespace/ctl/graph/${graph}/trigger`, {
    inputs: { items: JSON.stringify(items) },
  });
  const runId = trig.body.run_id;
  await vi.waitUntil(async () => (await runRow("ctl", runId))?.pending_count === 0, {
    timeout: 30_000,
    interval: 50,
  });
  return { graph, runId };
}

describe("GET /v0/namespace/{ns}/states/run/{run_id}/graph", () => {
  it("lists every state with edges from each direct parent and a summary per status", async () => {
    const { graph, runId } = await listThenEcho(["a", "b", "c"]);
    const view = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    expect(view.graph_name).toBe(graph);
    expect(view.node_count).toBe(6);
    expect(view.nodes.filter((n) => n.identifier === "list")).toHaveLength(3);
    // The splitter and its two clones have no parents: all three are roots.
    expect(view.root_states.map((n) => n.identifier)).toEqual(["list", "list", "list"]);
    expect(view.edge_count).toBe(3);
    const listIds = new Set(view.root_states.map((n) => n.id));
    for (const e of view.edges) expect(listIds.has(e.source)).toBe(true);
    expect(view.execution_summary).toEqual({
      CREATED: 0,
      QUEUED: 0,
      EXECUTED: 0,
      ERRORED: 0,
      NEXT_CREATED_ERROR: 0,
      SUCCESS: 6,
      PRUNED: 0,
      RETRY_CREATED: 0,
      CANCELLED: 0,
    });
  });

  it("answers 404 for an id that names no run: malformed, or well-formed but unknown", async () => {
    for (const runId of [crypto.randomUUID(), "not-a-run", `${crypto.randomUUID()}x`]) {
      const res = await json<{ detail: string }>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: `Run ${runId} not found` });
    }
  });

  it("shows a run of another namespace as none of that namespace's states", async () => {
    const { runId } = await listThenEcho(["x"]);
    const res = await json<GraphView>("GET", `/v0/namespace/other/states/run/${runId}/graph`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ graph_name: "", nodes: [], edges: [], node_count: 0, edge_count: 0 });
  });
});

describe("GET /v0/namespace/{ns}/graph/{g}/run/{run_id}/node/{node_id}", () => {
  it("shows one state's inputs, outputs and parents", async () => {
    const { graph, runId } = await listThenEcho(["a", "b"]);
    const view = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    const edge = view.edges[1];
    const res = await json<Record<string, unknown>>(
      "GET",
      `/v0/namespace/ctl/graph/${graph}/run/${runId}/node/${edge?.target}`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: edge?.target,
      node_name: "SignalNode",
      identifier: "echo",
      graph_name: graph,
      run_id: runId,
      status: "SUCCESS",
      inputs: { value: "b" },
      outputs: { value: "b" },
      error: null,
      parents: { list: edge?.source },
    });
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
    // A fan-out clone shows its head's inputs and its own output.
    const clone = await json<Record<string, unknown>>(
      "GET",
      `/v0/namespace/ctl/graph/${graph}/run/${runId}/node/${edge?.source}`,
    );
    expect(clone.body).toMatchObject({
      identifier: "list",
      inputs: { items: '["a","b"]' },
      outputs: { value: "b" },
    });
  });

  it("answers 400 for a malformed id and 404 for a state of another run, graph or namespace", async () => {
    const { graph, runId } = await listThenEcho(["a"]);
    const bad = await json<{ detail: string }>(
      "GET",
      `/v0/namespace/ctl/graph/${graph}/run/${runId}/node/xyz`,
    );
    expect(bad).toEqual({ status: 400, body: { detail: "Invalid node ID format: xyz" } });
    const view = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    const id = view.nodes[0]?.id ?? "";
    const other = crypto.randomUUID();
    for (const path of [
      `/v0/namespace/ctl/graph/${graph}/run/${other}/node/${id}`,
      `/v0/namespace/ctl/graph/other-graph/run/${runId}/node/${id}`,
      `/v0/namespace/elsewhere/graph/${graph}/run/${runId}/node/${id}`,
      `/v0/namespace/ctl/graph/${graph}/run/${runId}/node/${id.slice(0, 16)}ffffffff`,
    ]) {
      const res = await json<{ detail: string }>("GET", path);
      expect(res.status).toBe(404);
      expect(res.body.detail).toMatch(/^Node [0-9a-f]{24} not found in run /);
    }
  });
});

describe("at-least-once delivery", () => {
  it("changes nothing when a whole consumer batch is delivered again", async () => {
    const { runId } = await listThenEcho(["a", "b", "c"]);
    const runKey = runKeyOfRunId(runId) ?? "";
    const before = await runRow("ctl", runId);
    const view = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    const echo = view.nodes.filter((n) => n.identifier === "echo");
    const head = view.root_states[0]?.id ?? "";
    // Redelivered work that, if applied, would fan out again and overwrite outputs.
    const body: DispatchMessage = {
      v: 1,
      run: runKey,
      states: [
        { id: head, node: "ListNode", ns: "ctl", identifier: "list", inputs: { items: '["x","y"]' } },
        ...echo.map((n) => ({
          id: n.id,
          node: "SignalNode",
          ns: "ctl",
          identifier: "echo",
          inputs: { value: "again" },
        })),
      ],
    };
    // Delivered twice through the test runtime's own queue: each time the runtime Worker confirms the states
    // with the run actor through the engine's RuntimeEntrypoint (one pickup per delivery), which answers
    // that none is to run: they finished. Nothing is executed again, so nothing is reported either.
    const costs = () => env.RUN.getByName(runKey).costs();
    const { pickupRpcs, reportRpcs } = await costs();
    for (let i = 1; i <= 2; i++) {
      await env.TEST_QUEUE.send(body, { contentType: "json" });
      await vi.waitUntil(async () => (await costs()).pickupRpcs >= pickupRpcs + i, {
        timeout: 30_000,
        interval: 20,
      });
    }
    expect((await costs()).reportRpcs).toBe(reportRpcs);
    expect(await runRow("ctl", runId)).toEqual(before);
    const after = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    expect(after.node_count).toBe(view.node_count);
    const details = await json<{ outputs: Record<string, string> }>(
      "GET",
      `/v0/namespace/ctl/graph/${(await runRow("ctl", runId))?.graph_name}/run/${runId}/node/${echo[0]?.id}`,
    );
    expect(details.body.outputs.value).not.toBe("again");
  });
});

describe("large inputs", () => {
  it("carries inputs over the inline limit by reference, and the consumer fetches them from the run", async () => {
    const big = "x".repeat(INLINE_INPUTS_BYTES + 1);
    const { graph, runId } = await listThenEcho([big, "small"]);
    const row = await runRow("ctl", runId);
    expect(row).toMatchObject({ status: "SUCCESS", success_count: 4 });
    const view = (await json<GraphView>("GET", `/v0/namespace/ctl/states/run/${runId}/graph`)).body;
    const bigEcho = view.edges[0]?.target;
    const details = await json<{ inputs: Record<string, string>; outputs: Record<string, string> }>(
      "GET",
      `/v0/namespace/ctl/graph/${graph}/run/${runId}/node/${bigEcho}`,
    );
    expect(details.body.outputs.value).toBe(big);
    const costs = await env.RUN.getByName(runKeyOfRunId(runId) ?? "").costs();
    expect(costs.inputsByReference).toBeGreaterThanOrEqual(1);
  });
});

describe("ids nobody started", () => {
  it("leaves no storage behind for a well-formed state id of no run", async () => {
    const id = `${"ab".repeat(8)}00000001`;
    const res = await json<{ detail: string }>("POST", `/v0/namespace/ctl/state/${id}/executed`, {
      outputs: [],
    });
    expect(res).toEqual({ status: 404, body: { detail: "State not found" } });
    const tables = await runInDurableObject(env.RUN.getByName("ab".repeat(8)), async (_a, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables.filter((t) => !String(t.name).startsWith("_cf"))).toEqual([]);
  });
});
