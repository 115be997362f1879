// The hostile requests that once answered 500 (issue: reliability and security, item 3), each refused at
// the edge with a 4xx and a JSON detail, before anything reaches an actor, and changing nothing. The
// bounds are the named limits of src/engine/limits.ts.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  MAX_GRAPH_TEMPLATE_BYTES,
  MAX_JSON_DEPTH,
  MAX_NAME_CHARS,
  MAX_NODE_SCHEMA_BYTES,
  MAX_RUN_SNAPSHOT_BYTES,
  MAX_SECRETS_PER_GRAPH,
  MAX_STORE_VALUE_BYTES,
} from "../../src/engine/limits";
import { fresh, json, KEY, stringProps } from "./helpers/http";
import { enqueue, node, registerPull, statesOf, trigger, upsertValid } from "./helpers/pull";

async function raw(method: string, path: string, body: string) {
  const res = await exports.default.fetch(
    new Request(`http://x${path}`, {
      method,
      body,
      headers: { "x-api-key": KEY, "content-type": "application/json" },
    }),
  );
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as { detail: unknown } };
}

const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
const objects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

/** A namespace with a VALID graph `g` of pull node P, a run whose root is QUEUED, and that state's id. */
async function queuedState() {
  const ns = fresh("hostile");
  await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
  await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
  const runId = await trigger(ns, "g");
  const [state] = await enqueue(ns, ["P"], 1);
  if (!state) throw new Error("no state was handed out");
  return { ns, runId, id: state.state_id };
}

const runsTotal = async (ns: string) =>
  (await json<{ total: number }>("GET", `/v0/namespace/${ns}/runs/1/10`)).body.total;

describe("nesting depth", () => {
  it("refuses a body of arrays nested 100,000 deep on every body route with 422 json_invalid", async () => {
    const { ns, id } = await queuedState();
    const routes: Array<[string, string]> = [
      ["PUT", `/v0/namespace/${ns}/nodes/`],
      ["PUT", `/v0/namespace/${ns}/graph/g`],
      ["POST", `/v0/namespace/${ns}/graph/g/trigger`],
      ["POST", `/v0/namespace/${ns}/states/enqueue`],
      ["POST", `/v0/namespace/${ns}/state/${id}/executed`],
      ["POST", `/v0/namespace/${ns}/state/${id}/errored`],
      ["POST", `/v0/namespace/${ns}/state/${id}/prune`],
      ["POST", `/v0/namespace/${ns}/state/${id}/re-enqueue-after`],
      ["POST", `/v0/namespace/${ns}/state/${id}/manual-retry`],
    ];
    for (const [method, path] of routes) {
      const res = await raw(method, path, arrays(100_000));
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
      expect(res.body.detail).toEqual([
        {
          type: "json_invalid",
          loc: ["body", 0],
          msg: "JSON decode error",
          input: {},
          ctx: { error: `JSON nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels` },
        },
      ]);
    }
  });

  it("refuses outputs, prune data and an inputs_schema nested 5,000 deep, and the state stays QUEUED", async () => {
    const { ns, runId, id } = await queuedState();
    const cases: Array<[string, string]> = [
      [`/v0/namespace/${ns}/state/${id}/executed`, `{"outputs":[${objects(5_000)}]}`],
      [`/v0/namespace/${ns}/state/${id}/prune`, `{"data":${objects(5_000)}}`],
    ];
    for (const [path, body] of cases) expect((await raw("POST", path, body)).status).toBe(422);
    const schema = `{"runtime_name":"r","nodes":[{"name":"Deep","inputs_schema":${objects(5_000)},"outputs_schema":{},"secrets":[]}]}`;
    expect((await raw("PUT", `/v0/namespace/${ns}/nodes/`, schema)).status).toBe(422);
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["QUEUED"]);
    const nodes = await json<{ nodes: Array<{ name: string }> }>("GET", `/v0/namespace/${ns}/nodes/`);
    expect(nodes.body.nodes.map((n) => n.name)).toEqual(["P"]);
  });

  it("accepts JSON nested exactly to the bound", async () => {
    const { ns, id } = await queuedState();
    // body {} → outputs [] → output {} → MAX_JSON_DEPTH - 3 more objects.
    const output = objects(MAX_JSON_DEPTH - 3);
    const res = await raw("POST", `/v0/namespace/${ns}/state/${id}/executed`, `{"outputs":[${output}]}`);
    expect(res).toEqual({ status: 200, body: { status: "EXECUTED" } });
  });
});

describe("stored sizes", () => {
  it("refuses a graph with 50,000 secrets at once, encrypting none, and stores nothing", async () => {
    const ns = fresh("hostile");
    const secrets = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`s${i}`, `value-${i}`]));
    const started = Date.now();
    const res = await json<{ detail: Array<Record<string, unknown>> }>("PUT", `/v0/namespace/${ns}/graph/g`, {
      secrets,
      nodes: [],
    });
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({
      type: "too_long",
      loc: ["body", "secrets"],
      ctx: { max_length: MAX_SECRETS_PER_GRAPH, actual_length: 50_000 },
    });
    // Names only, never a value.
    expect(JSON.stringify(res.body)).not.toContain("value-1");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await json("GET", `/v0/namespace/${ns}/graph/g`)).status).toBe(404);
  });

  it("refuses a graph template larger than its bound with 413", async () => {
    const ns = fresh("hostile");
    await registerPull(ns, [{ name: "P", inputs: ["v"] }]);
    const big = "x".repeat(MAX_GRAPH_TEMPLATE_BYTES);
    const res = await json("PUT", `/v0/namespace/${ns}/graph/g`, {
      secrets: {},
      nodes: [node(ns, "P", "p", { v: big })],
    });
    expect(res).toEqual({
      status: 413,
      body: { detail: `Graph template is larger than ${MAX_GRAPH_TEMPLATE_BYTES} bytes of JSON` },
    });
    expect((await json("GET", `/v0/namespace/${ns}/graph/g`)).status).toBe(404);
  });

  it("refuses names longer than MAX_NAME_CHARS and registered schemas larger than their bound", async () => {
    const ns = fresh("hostile");
    const long = "n".repeat(MAX_NAME_CHARS + 1);
    const register = (nodeBody: Record<string, unknown>) =>
      json<{ detail: Array<{ type: string; loc: unknown[] }> }>("PUT", `/v0/namespace/${ns}/nodes/`, {
        runtime_name: "r",
        nodes: [{ name: "A", inputs_schema: {}, outputs_schema: {}, secrets: [], ...nodeBody }],
      });
    const name = await register({ name: long });
    expect(name.status).toBe(422);
    expect(name.body.detail[0]).toMatchObject({ type: "string_too_long", loc: ["body", "nodes", 0, "name"] });
    const schema = await register({ inputs_schema: { description: "d".repeat(MAX_NODE_SCHEMA_BYTES) } });
    expect(schema.status).toBe(422);
    expect(schema.body.detail[0]).toMatchObject({ loc: ["body", "nodes", 0, "inputs_schema"] });
    expect((await json<{ count: number }>("GET", `/v0/namespace/${ns}/nodes/`)).body.count).toBe(0);
  });

  it("refuses a store value larger than one row may hold, and starts no run", async () => {
    const ns = fresh("hostile");
    await registerPull(ns, [{ name: "P", inputs: ["v"] }]);
    await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
    const res = await json<{ detail: Array<{ loc: unknown[]; msg: string }> }>(
      "POST",
      `/v0/namespace/${ns}/graph/g/trigger`,
      { store: { big: "v".repeat(MAX_STORE_VALUE_BYTES + 1) } },
    );
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({
      loc: ["body", "store", "big"],
      msg: `Value error, Store value is larger than ${MAX_STORE_VALUE_BYTES} bytes`,
    });
    expect(await runsTotal(ns)).toBe(0);
  });

  it("refuses a trigger whose graph snapshot would not fit the run's meta row with 413", async () => {
    const ns = fresh("hostile");
    // Forty nodes of 500 input fields of 40 characters: a template under its bound (every field is one of
    // its inputs), whose snapshot adds each node's registered fields again and passes the run's bound.
    const fields = Array.from({ length: 500 }, (_, i) => `field_${String(i).padStart(34, "0")}`);
    const reg = await json("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "r",
      nodes: Array.from({ length: 40 }, (_, i) => ({
        name: `N${i}`,
        inputs_schema: stringProps(...fields),
        outputs_schema: {},
        secrets: [],
      })),
    });
    expect(reg.status).toBe(200);
    const inputs = Object.fromEntries(fields.map((f) => [f, "x"]));
    const nodes = Array.from({ length: 40 }, (_, i) =>
      node(ns, `N${i}`, `n${i}`, inputs, i < 39 ? [`n${i + 1}`] : null),
    );
    await upsertValid(ns, "g", { nodes });
    const res = await json<{ detail: string }>("POST", `/v0/namespace/${ns}/graph/g/trigger`, {});
    expect(res.status).toBe(413);
    expect(res.body.detail).toContain(`larger than ${MAX_RUN_SNAPSHOT_BYTES} bytes`);
    expect(await runsTotal(ns)).toBe(0);
  });
});
