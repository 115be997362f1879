// Node registration, node listing and the namespaces directory (spec §2.2–§2.4).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { exampleNodes } from "../../examples/runtime/src/nodes";
import { createRuntime } from "../../src/sdk/runtime";
import { call, freshNamespace } from "./helpers/http";

const node = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  inputs_schema: { type: "object", properties: { text: { type: "string" } } },
  outputs_schema: { type: "object", properties: { result: { type: "string" } } },
  secrets: ["api_key"],
  ...extra,
});

interface NodeList {
  namespace: string;
  count: number;
  nodes: Array<Record<string, unknown>>;
}

describe("PUT /v0/namespace/{ns}/nodes/", () => {
  it("registers nodes, echoes them, and lists them with ids, timestamps and transport", async () => {
    const ns = freshNamespace();
    // The Python SDK sends fields we do not know (runtime_namespace, per-node namespace); they are ignored.
    const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "rt",
      runtime_namespace: ns,
      nodes: [node("a", { namespace: ns }), node("b")],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ runtime_name: "rt", registered_nodes: [node("a"), node("b")] });

    const list = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(list.namespace).toBe(ns);
    expect(list.count).toBe(2);
    expect(list.nodes.map((n) => n.name)).toEqual(["a", "b"]);
    expect(list.nodes[0]).toMatchObject({
      ...node("a"),
      namespace: ns,
      runtime_name: "rt",
      runtime_namespace: ns,
      transport: "pull",
    });
    expect(list.nodes[0]?._id).toMatch(/^[0-9a-f]{24}$/);
    expect(list.nodes[0]?.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
  });

  it("updates a node registered again, keeping its id, and stores the queue transport", async () => {
    const ns = freshNamespace();
    await call("PUT", `/v0/namespace/${ns}/nodes/`, { runtime_name: "rt1", nodes: [node("a")] });
    const first = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "rt2",
      transport: "queue",
      nodes: [node("a", { secrets: [] }), node("c", { transport: "pull" })],
    });
    expect(res.status).toBe(200);
    const after = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(after.count).toBe(2);
    expect(after.nodes[0]).toMatchObject({ name: "a", runtime_name: "rt2", secrets: [], transport: "queue" });
    expect(after.nodes[0]?._id).toBe(first.nodes[0]?._id);
    expect(after.nodes[1]).toMatchObject({ name: "c", transport: "pull" });
  });

  it("accepts an empty node list", async () => {
    const res = await call("PUT", `/v0/namespace/${freshNamespace()}/nodes/`, {
      runtime_name: "rt",
      nodes: [],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ runtime_name: "rt", registered_nodes: [] });
  });

  it("refuses a malformed registration with 422 and registers nothing", async () => {
    const ns = freshNamespace();
    const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "rt",
      nodes: [
        node("ok"),
        { ...node("bad"), secrets: "api_key" },
        node("bad-transport", { transport: "carrier" }),
      ],
    });
    expect(res.status).toBe(422);
    const { detail } = (await res.json()) as { detail: Array<Record<string, unknown>> };
    expect(detail).toContainEqual({
      type: "list_type",
      loc: ["body", "nodes", 1, "secrets"],
      msg: "Input should be a valid list",
      input: "api_key",
    });
    expect(detail.find((d) => (d.loc as unknown[]).includes("transport"))).toMatchObject({
      type: "enum",
      msg: "Input should be 'queue' or 'pull'",
    });
    const list = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(list.count).toBe(0);
  });

  it("serves the directory's former name as an ordinary namespace, now that the directory has its own actor", async () => {
    const res = await call("PUT", "/v0/namespace/__directory__/nodes/", {
      runtime_name: "rt",
      nodes: [node("a")],
    });
    expect(res.status).toBe(200);
    const list = (await (await call("GET", "/v0/namespace/__directory__/nodes/")).json()) as NodeList;
    expect(list.nodes.map((n) => n.name)).toEqual(["a"]);
    const namespaces = (await (await call("GET", "/v0/namespaces")).json()) as { namespaces: string[] };
    expect(namespaces.namespaces).toContain("__directory__");
  });
});

describe("GET /v0/namespaces", () => {
  it("lists a namespace once it registered nodes, sorted, and not before", async () => {
    const [ns1, ns2] = [freshNamespace(), freshNamespace()].sort();
    if (ns1 === undefined || ns2 === undefined) throw new Error("two namespaces expected");
    await call("PUT", `/v0/namespace/${ns2}/nodes/`, { runtime_name: "rt", nodes: [] });
    await call("PUT", `/v0/namespace/${ns1}/graph/g`, { secrets: {}, nodes: [] });
    let listed = (await (await call("GET", "/v0/namespaces")).json()) as {
      namespaces: string[];
      count: number;
    };
    expect(listed.namespaces).not.toContain(ns1);
    expect(listed.namespaces).not.toContain(ns2);

    await call("PUT", `/v0/namespace/${ns2}/nodes/`, { runtime_name: "rt", nodes: [node("a")] });
    await call("PUT", `/v0/namespace/${ns1}/nodes/`, { runtime_name: "rt", nodes: [node("a")] });
    await call("PUT", `/v0/namespace/${ns1}/nodes/`, { runtime_name: "rt", nodes: [node("b")] });
    const res = await call("GET", "/v0/namespaces");
    expect(res.status).toBe(200);
    listed = (await res.json()) as { namespaces: string[]; count: number };
    expect(listed.count).toBe(listed.namespaces.length);
    expect(listed.namespaces.filter((n) => n === ns1 || n === ns2)).toEqual([ns1, ns2]);
    expect([...listed.namespaces].sort()).toEqual(listed.namespaces);
  });
});

describe("who serves a node", () => {
  it("lets the last deliberate registration win, but a bundled runtime's start-up never takes a node back", async () => {
    const ns = freshNamespace();
    const bundled = createRuntime({ namespace: ns, name: "bundled", nodes: exampleNodes() });
    await bundled.register(env);
    const transportOf = async (name: string) => {
      const res = await call("GET", `/v0/namespace/${ns}/nodes/`);
      const body = (await res.json()) as {
        nodes: { name: string; transport: string; runtime_name: string }[];
      };
      const n = body.nodes.find((x) => x.name === name);
      return [n?.runtime_name, n?.transport];
    };
    expect(await transportOf("DataProcessorNode")).toEqual(["bundled", "queue"]);
    // A pull runtime registers the same node over HTTP: it serves it now.
    const put = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "gpu-box",
      nodes: [{ name: "DataProcessorNode", inputs_schema: {}, outputs_schema: {}, secrets: [] }],
    });
    expect(put.status).toBe(200);
    expect(await transportOf("DataProcessorNode")).toEqual(["gpu-box", "pull"]);
    // The bundled runtime starting again (as at every isolate start) leaves it to the pull runtime...
    await bundled.register(env, { keepOthers: true });
    expect(await transportOf("DataProcessorNode")).toEqual(["gpu-box", "pull"]);
    expect(await transportOf("DataSplitterNode")).toEqual(["bundled", "queue"]);
    // ...while a deliberate registration takes it back.
    await bundled.register(env);
    expect(await transportOf("DataProcessorNode")).toEqual(["bundled", "queue"]);
  });
});
