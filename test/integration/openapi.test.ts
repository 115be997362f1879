// The OpenAPI document against the running app: it lists exactly the app's routes, it is served without a
// key, and every answer of a whole run's conversation (requests, refusals, reports, reads) matches the
// schema the document gives for that operation and status, with no field the document does not name.
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { z } from "zod";
import { app } from "../../src/api/app";
import { operations } from "../../src/api/openapi/operations";
import { webPageRoutes } from "../../src/api/routes/web-page";
import { ErrorBody, RunNodes, ValidationErrorBody } from "../../src/api/schemas/responses";
import { readEvents } from "../../src/client/sse";
import { call, fresh, KEY } from "./helpers/http";
import { pydanticSchema } from "./helpers/pull";

/** The schema the document names for this operation and status (the common refusals included). */
function schemaFor(method: string, path: string, status: number): z.ZodType {
  const op = operations.find((o) => o.method === method.toLowerCase() && o.path === path);
  if (!op) throw new Error(`no operation ${method} ${path} in the document`);
  const spec = op.responses[status];
  if (spec?.schema) return spec.schema;
  if (status === 422) return ValidationErrorBody;
  if (status === 401 || status === 413) return ErrorBody;
  throw new Error(`${method} ${path} answered ${status}, which the document does not list`);
}

/**
 * Calls `path` (the route's template) with `params` filled in, and checks the answer against the document:
 * parsing it with the documented schema must keep every field (z.object drops the ones it does not name).
 */
async function documented(
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
  options: { query?: string; key?: string } = {},
) {
  const url = path.replace(/:([A-Za-z_]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
  const res = await call(method, `${url}${options.query ?? ""}`, body, { "x-api-key": options.key ?? KEY });
  const json = (await res.json()) as unknown;
  const parsed = schemaFor(method, path, res.status).safeParse(json);
  expect(parsed.error?.issues ?? [], `${method} ${path} → ${res.status}`).toEqual([]);
  expect(parsed.data, `${method} ${path} → ${res.status}: undocumented fields`).toEqual(json);
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the checked answer by known fields
  return { status: res.status, body: json as any };
}

const NS = "/v0/namespace/:namespace";
const STATE = `${NS}/state/:state_id`;
const RUN = `${NS}/states/run/:run_id`;

describe("GET /openapi.json", () => {
  it("is served without an API key", async () => {
    const res = await exports.default.fetch(new Request("http://x/openapi.json"));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v0/namespace/{namespace}/graph/{graph}/trigger");
  });

  it("documents exactly the routes the app serves", () => {
    // The web page's files are not operations of the API.
    const page = new Set(webPageRoutes.routes.map((r) => r.path));
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && !page.has(r.path))
        .map((r) => `${r.method.toLowerCase()} ${r.path}`),
    );
    const documentedOps = new Set(operations.map((o) => `${o.method} ${o.path}`));
    const undocumented = [...served].filter((op) => !documentedOps.has(op));
    const unserved = [...documentedOps].filter((op) => !served.has(op));
    expect(undocumented, "served but not described in src/api/openapi/operations.ts").toEqual([]);
    expect(unserved, "described in src/api/openapi/operations.ts but not served").toEqual([]);
  });
});

describe("every answer of a run's conversation matches the document", () => {
  it("from registering nodes to retrying a state", async () => {
    const ns = fresh("doc");
    const p = { namespace: ns, graph: "g" };
    expect((await documented("GET", "/health", {})).status).toBe(200);
    expect((await documented("GET", "/v0/namespaces", {}, undefined, { key: "wrong" })).status).toBe(401);

    const nodes = [
      { name: "A", inputs: [], outputs: ["v"] },
      { name: "B", inputs: ["v"], outputs: [] },
    ].map((n) => ({
      name: n.name,
      inputs_schema: pydanticSchema("Inputs", n.inputs),
      outputs_schema: pydanticSchema("Outputs", n.outputs),
      secrets: n.name === "B" ? ["token"] : [],
    }));
    expect((await documented("PUT", `${NS}/nodes/`, p, { runtime_name: "rt", nodes })).status).toBe(200);
    expect((await documented("PUT", `${NS}/nodes/`, p, { nodes: "no" })).status).toBe(422);
    expect((await documented("GET", `${NS}/nodes/`, p)).body.count).toBe(2);
    expect((await documented("GET", "/v0/namespaces", {})).body.namespaces).toContain(ns);

    const graph = {
      secrets: { token: "t0k3n" },
      nodes: [
        { node_name: "A", namespace: ns, identifier: "a", inputs: {}, next_nodes: ["b"] },
        { node_name: "B", namespace: ns, identifier: "b", inputs: { v: "${{ a.outputs.v }}" } },
      ],
      retry_policy: { max_retries: 0 },
      triggers: [{ type: "CRON", value: { expression: "0 0 1 1 *" } }],
    };
    const upsert = await documented("PUT", `${NS}/graph/:graph`, p, graph);
    expect(upsert).toMatchObject({ status: 201, body: { validation_status: "VALID" } });
    expect((await documented("GET", `${NS}/graph/:graph`, p)).body.trigger_schedule).toHaveLength(1);
    expect((await documented("GET", `${NS}/graph/:graph`, { ...p, graph: "none" })).status).toBe(404);
    expect((await documented("GET", `${NS}/graphs/`, p)).body.count).toBe(1);
    const rootless = { secrets: {}, nodes: [{ ...graph.nodes[0], next_nodes: ["a"] }] };
    expect((await documented("PUT", `${NS}/graph/:graph`, { ...p, graph: "bad" }, rootless)).status).toBe(
      400,
    );

    const trig = await documented("POST", `${NS}/graph/:graph/trigger`, p, { inputs: { nope: "x" } });
    expect(trig.body.warnings).toHaveLength(1);
    const runId: string = trig.body.run_id;
    const r = { ...p, run_id: runId };
    expect((await documented("GET", `${NS}/runs/:page/:size`, { ...p, page: "1", size: "10" })).status).toBe(
      200,
    );
    expect((await documented("GET", `${NS}/runs/:page/:size`, { ...p, page: "0", size: "10" })).status).toBe(
      422,
    );
    expect((await documented("GET", `${RUN}/nodes`, r)).body.status).toBe("PENDING");

    const take = async (node: string, count: number) => {
      let states: { state_id: string }[] = [];
      await vi.waitUntil(async () => {
        const res = await documented("POST", `${NS}/states/enqueue`, p, { nodes: [node], batch_size: count });
        states = res.body.states;
        return states.length === count;
      });
      return states;
    };
    const [a] = await take("A", 1);
    const s = (state: { state_id: string } | undefined) => ({ ...p, state_id: state?.state_id ?? "" });
    const outputs = { outputs: [{ v: "1" }, { v: "2" }] };
    expect((await documented("POST", `${STATE}/executed`, s(a), outputs)).status).toBe(200);
    expect((await documented("POST", `${STATE}/executed`, s(a), outputs)).status).toBe(400);
    expect((await documented("POST", `${STATE}/executed`, s(a), { outputs: 1 })).status).toBe(422);

    const [b1, b2] = await take("B", 2);
    expect((await documented("GET", `${STATE}/secrets`, s(b1))).body.secrets).toEqual({ token: "t0k3n" });
    expect((await documented("POST", `${STATE}/re-enqueue-after`, s(b2), { enqueue_after: 1 })).status).toBe(
      200,
    );
    const [b2again] = await take("B", 1);
    expect((await documented("POST", `${STATE}/prune`, s(b2again), { data: { why: "test" } })).status).toBe(
      200,
    );
    expect(
      (await documented("POST", `${STATE}/re-enqueue-after`, s(b2again), { enqueue_after: 1 })).status,
    ).toBe(409);
    expect((await documented("POST", `${STATE}/errored`, s(b1), { error: "boom" })).body).toEqual({
      status: "ERRORED",
      retry_created: false,
    });
    expect((await documented("POST", `${STATE}/errored`, s(b1), { error: "again" })).status).toBe(400);

    const graphView = await documented("GET", `${RUN}/graph`, r);
    expect(graphView.body.warnings).toHaveLength(1);
    expect(
      (await documented("GET", `${RUN}/graph`, r, undefined, { query: "?limit=1" })).body.next_cursor,
    ).toBe(graphView.body.nodes[0].id);
    expect((await documented("GET", `${RUN}/graph`, r, undefined, { query: "?limit=0" })).status).toBe(422);
    expect((await documented("GET", `${RUN}/graph`, { ...r, run_id: crypto.randomUUID() })).status).toBe(404);
    const details = `${NS}/graph/:graph/run/:run_id/node/:node_id`;
    const errored = await documented("GET", details, { ...r, node_id: b1?.state_id ?? "" });
    expect(errored.body).toMatchObject({ status: "ERRORED", error: "boom", inputs: { v: "1" } });
    expect((await documented("GET", details, { ...r, node_id: "xyz" })).status).toBe(400);
    expect(
      (await documented("GET", details, { ...r, graph: "other", node_id: b1?.state_id ?? "" })).status,
    ).toBe(404);
    expect((await documented("GET", `${RUN}/costs`, r)).body.run_id).toBe(runId);
    expect((await documented("GET", `${RUN}/nodes`, r)).body.status).toBe("FAILED");

    const retry = await documented("POST", `${STATE}/manual-retry`, s(b1), {
      fanout_id: crypto.randomUUID(),
    });
    expect(retry.body.status).toBe("CREATED");
    expect((await documented("POST", `${STATE}/manual-retry`, s(b1), { fanout_id: "x" })).status).toBe(409);
    const [retried] = await take("B", 1);
    expect(retried?.state_id).toBe(retry.body.id);
    expect((await documented("POST", `${STATE}/executed`, s(retried), { outputs: [{}] })).status).toBe(200);

    // The stream's events carry the documented RunNodes.
    const res = await call("GET", `/v0/namespace/${ns}/states/run/${runId}/events`);
    expect(res.status).toBe(200);
    const events = [];
    for await (const event of readEvents(res.body as ReadableStream<Uint8Array>)) events.push(event);
    expect(events.map((e) => e.event)).toEqual(["progress", "end"]);
    const view = JSON.parse(events[0]?.data ?? "{}");
    expect(RunNodes.parse(view)).toEqual(view);
    expect(view.status).toBe("SUCCESS");
  });
});
