// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the placeholder syntax under test.
import { describe, expect, it } from "vitest";
import type { NodeTemplate, RegisteredNode } from "../../src/engine/model";
import { verifyGraph } from "../../src/engine/template/registry-check";

const node = (
  identifier: string,
  inputs: Record<string, unknown> = {},
  over: Partial<NodeTemplate> = {},
) => ({
  node_name: identifier,
  namespace: "ns",
  identifier,
  inputs,
  next_nodes: null,
  unites: null,
  ...over,
});

const str = { type: "string" };

const registered = (
  name: string,
  inputs: Record<string, unknown> = {},
  outputs: Record<string, unknown> = {},
  secrets: string[] = [],
  namespace = "ns",
): RegisteredNode => ({
  name,
  namespace,
  runtime_name: "rt",
  runtime_namespace: namespace,
  inputs_schema: { type: "object", properties: inputs, required: Object.keys(inputs) },
  outputs_schema: { type: "object", properties: outputs },
  secrets,
  transport: "pull",
});

const registry = (...nodes: RegisteredNode[]) => {
  const calls: string[] = [];
  const lookup = (name: string, namespace: string) => {
    calls.push(`${namespace}/${name}`);
    return nodes.find((n) => n.name === name && n.namespace === namespace);
  };
  return { lookup, calls };
};

describe("verifyGraph", () => {
  it("finds nothing wrong with the seed graph once its nodes are registered", () => {
    const nodes = [
      node("data_splitter", { data: "${{ store.data }}" }, { next_nodes: ["processor"] }),
      node("processor", { chunk: "${{ data_splitter.outputs.chunk }}" }, { next_nodes: ["merger"] }),
      node(
        "merger",
        { processed_data: "${{ processor.outputs.result }}" },
        { unites: { identifier: "data_splitter", strategy: "ALL_SUCCESS" } },
      ),
    ];
    const { lookup } = registry(
      registered("data_splitter", { data: str }, { chunk: str }),
      registered("processor", { chunk: str }, { result: str }, ["api_key"]),
      registered("merger", { processed_data: str }),
    );
    expect(verifyGraph(nodes, ["api_key"], lookup)).toEqual([]);
  });

  it("checks the fields of a unite node's reference into its subtree like any other", () => {
    const nodes = [
      node("t", {}, { next_nodes: ["p"] }),
      node("p", {}, { next_nodes: ["u"] }),
      node("u", { x: "${{ p.outputs.missing }}" }, { unites: { identifier: "t", strategy: "ALL_DONE" } }),
    ];
    const { lookup } = registry(
      registered("t"),
      registered("p", {}, { result: str }),
      registered("u", { x: str }),
    );
    expect(verifyGraph(nodes, [], lookup)).toEqual([
      "Field missing in node p in namespace ns does not exist",
    ]);
  });

  it("reports missing nodes (each once), then secrets, then inputs, in Exosphere's words", () => {
    const nodes = [
      node("a", { x: "${{ ghost.outputs.f }}", y: "${{ b.outputs.f }}" }),
      node("b"),
      node("gone", {}, { namespace: "other" }),
    ];
    const { lookup } = registry(
      registered("a", { x: str, z: str, n: { type: "integer" } }, {}, ["s1", "s2"]),
    );
    expect(verifyGraph(nodes, ["s2"], lookup)).toEqual([
      "Node b in namespace ns does not exist.",
      "Node gone in namespace other does not exist.",
      "Secret s1 is required but not present in the graph template",
      "Input z in node a in namespace ns is not present in the graph template",
      "Input n in node a in namespace ns is not a string",
      "Node ghost does not exist in the graph template",
    ]);
  });

  it("reports an unknown node once, however often the graph uses or references it", () => {
    const nodes = [
      node("a", { x: "${{ b.outputs.f }}", y: "${{ c.outputs.f }}" }),
      node("b"),
      { ...node("c"), node_name: "b" },
    ];
    const { lookup } = registry(registered("a", { x: str, y: str }));
    expect(verifyGraph(nodes, [], lookup)).toEqual(["Node b in namespace ns does not exist."]);
  });

  it("looks each registered node up once", () => {
    const nodes = [node("a"), { ...node("b"), node_name: "a" }];
    const { lookup, calls } = registry(registered("a"));
    expect(verifyGraph(nodes, [], lookup)).toEqual([]);
    expect(calls).toEqual(["ns/a"]);
  });

  it.each([
    [{ type: "string", format: "date-time" }],
    [{ type: "string", format: "uri" }],
    [{ type: "string", format: "uuid" }],
    [{ type: "string", enum: ["a", "b"] }],
    [{ const: "a" }],
    [{ type: ["string", "null"] }],
    [{ anyOf: [str, { type: "null" }] }],
    [{ type: "number" }],
    [{ type: "boolean" }],
    [{ type: "array", items: str }],
    [{ type: "object" }],
  ])("treats the input property %j as not a string", (schema) => {
    const { lookup } = registry(registered("a", { x: schema }));
    expect(verifyGraph([node("a", { x: "v" })], [], lookup)).toEqual([
      "Input x in node a in namespace ns is not a string",
    ]);
  });

  it.each([[str], [{ type: "string", format: "email" }], [{ type: "string", title: "X", default: "d" }]])(
    "accepts the input property %j as a string",
    (schema) => {
      const { lookup } = registry(registered("a", { x: schema }));
      expect(verifyGraph([node("a", { x: "v" })], [], lookup)).toEqual([]);
    },
  );

  it("ignores template inputs the schema does not declare", () => {
    const { lookup } = registry(registered("a", { x: str }));
    expect(verifyGraph([node("a", { x: "v", extra: "w" })], [], lookup)).toEqual([]);
  });

  it("rejects a referenced output that is not a plain string", () => {
    const nodes = [node("a", {}, { next_nodes: ["b"] }), node("b", { x: "${{ a.outputs.n }}" })];
    const { lookup } = registry(registered("a", {}, { n: { type: "integer" } }), registered("b", { x: str }));
    expect(verifyGraph(nodes, [], lookup)).toEqual(["Field n in node a in namespace ns is not a string"]);
  });

  it("skips store placeholders", () => {
    const { lookup } = registry(registered("a", { x: str }));
    expect(verifyGraph([node("a", { x: "${{ store.k }}" })], [], lookup)).toEqual([]);
  });

  it("turns a schema property without a type into a single unexpected error", () => {
    const { lookup } = registry(registered("a", { x: { title: "X" } }));
    expect(verifyGraph([node("a", { x: "v" })], [], lookup)).toEqual([
      "Validation failed due to unexpected error: Schema must specify a type",
    ]);
  });

  it("turns a failing lookup into a single unexpected error", () => {
    const lookup = () => {
      throw new Error("Database error");
    };
    expect(verifyGraph([node("a")], [], lookup)).toEqual([
      "Validation failed due to unexpected error: Database error",
    ]);
  });
});
