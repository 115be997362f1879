// Node registration, node listing and the namespaces directory (spec §2.2–§2.4).
import { env, exports } from "cloudflare:workers";
import { createRuntime } from "exoflare";
import { describe, expect, it } from "vitest";
import { exampleNodes } from "../../examples/runtime/src/nodes";
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
      queue: "TEST_QUEUE",
      nodes: [node("a", { secrets: [] }), node("c", { transport: "pull" })],
    });
    expect(res.status).toBe(200);
    const after = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(after.count).toBe(2);
    expect(after.nodes[0]).toMatchObject({
      name: "a",
      runtime_name: "rt2",
      secrets: [],
      transport: "queue",
      queue: "TEST_QUEUE",
    });
    expect(after.nodes[0]?._id).toBe(first.nodes[0]?._id);
    expect(after.nodes[1]).toMatchObject({ name: "c", transport: "pull" });
    expect(after.nodes[1]).not.toHaveProperty("queue");
  });

  it("refuses a queue node that names no queue, or a queue the engine has no binding for, and registers nothing", async () => {
    const ns = freshNamespace();
    const cases = [
      [{ transport: "queue" }, /names no queue/],
      [{ transport: "queue", queue: "NO_SUCH_QUEUE" }, /no queue binding named 'NO_SUCH_QUEUE'/],
      // A binding that is not a queue producer is no queue either.
      [{ transport: "queue", queue: "RUN" }, /no queue binding named 'RUN'/],
    ] as const;
    for (const [extra, detail] of cases) {
      const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
        runtime_name: "rt",
        ...extra,
        nodes: [node("a")],
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
    }
    const listed = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(listed.count).toBe(0);
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
  it("lets the last deliberate registration win, but a runtime's own re-registration never takes a node back", async () => {
    const ns = freshNamespace();
    // A runtime Worker talking to the engine through its RuntimeEntrypoint, as over a service binding.
    const runtime = createRuntime({
      namespace: ns,
      name: "examples-rt",
      queue: "EXAMPLES_QUEUE",
      nodes: exampleNodes(),
      engine: () => exports.RuntimeEntrypoint,
    });
    expect(await runtime.register(env)).toEqual({
      runtime_name: "examples-rt",
      queue: "EXAMPLES_QUEUE",
      registered: ["DataSplitterNode", "DataProcessorNode", "ResultMergerNode"],
    });
    const servedBy = async (name: string) => {
      const res = await call("GET", `/v0/namespace/${ns}/nodes/`);
      const body = (await res.json()) as {
        nodes: { name: string; transport: string; runtime_name: string; queue?: string }[];
      };
      const n = body.nodes.find((x) => x.name === name);
      return [n?.runtime_name, n?.transport, n?.queue];
    };
    expect(await servedBy("DataProcessorNode")).toEqual(["examples-rt", "queue", "EXAMPLES_QUEUE"]);
    // A pull runtime registers the same node over HTTP: it serves it now.
    const put = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "gpu-box",
      nodes: [{ name: "DataProcessorNode", inputs_schema: {}, outputs_schema: {}, secrets: [] }],
    });
    expect(put.status).toBe(200);
    expect(await servedBy("DataProcessorNode")).toEqual(["gpu-box", "pull", undefined]);
    // The runtime registering on its own (POST /register, its cron) leaves it to the pull runtime...
    await runtime.register(env, { keepOthers: true });
    expect(await servedBy("DataProcessorNode")).toEqual(["gpu-box", "pull", undefined]);
    expect(await servedBy("DataSplitterNode")).toEqual(["examples-rt", "queue", "EXAMPLES_QUEUE"]);
    // ...while a deliberate registration takes it back.
    await runtime.register(env);
    expect(await servedBy("DataProcessorNode")).toEqual(["examples-rt", "queue", "EXAMPLES_QUEUE"]);
  });

  it("refuses a runtime's registration for a queue the engine has no binding for, over the binding and over HTTP", async () => {
    const ns = freshNamespace();
    const runtime = createRuntime({
      namespace: ns,
      name: "lost",
      queue: "NO_SUCH_QUEUE",
      nodes: exampleNodes(),
      engine: () => exports.RuntimeEntrypoint,
    });
    await expect(runtime.register(env)).rejects.toThrow(/no queue binding named 'NO_SUCH_QUEUE'/);
    const res = await call("POST", "/v0/runtime/registerNodes", { args: [runtime.registration()] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(
      /no queue binding named 'NO_SUCH_QUEUE'/,
    );
    const listed = (await (await call("GET", `/v0/namespace/${ns}/nodes/`)).json()) as NodeList;
    expect(listed.count).toBe(0);
  });
});
