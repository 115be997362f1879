// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the placeholder syntax under test, not a mistaken template literal.
import { describe, expect, it } from "vitest";
import type { NodeTemplate, StoreConfig, Unites } from "../../src/engine/model";
import { findRoot, GraphStructureError, validateGraphStructure } from "../../src/engine/template/structure";
import { subtreeNodes, unitedSubtree } from "../../src/engine/template/united-subtree";

const node = (
  identifier: string,
  next: string[] | null = null,
  unites: string | null = null,
  inputs: Record<string, unknown> = {},
): NodeTemplate => ({
  node_name: identifier,
  namespace: "test_namespace",
  identifier,
  inputs,
  next_nodes: next,
  unites: unites === null ? null : ({ identifier: unites, strategy: "ALL_SUCCESS" } satisfies Unites),
});

const noStore: StoreConfig = { required_keys: [], default_values: {} };

const structureError = (nodes: NodeTemplate[], store: StoreConfig = noStore): GraphStructureError => {
  try {
    validateGraphStructure(nodes, store);
  } catch (e) {
    if (e instanceof GraphStructureError) return e;
    throw e;
  }
  throw new Error("expected the graph to be rejected");
};

/** The seed's headline example: the merger unites the splitter and reads the processor's output. */
const seedGraph = (): NodeTemplate[] => [
  node("data_splitter", ["processor"], null, { data: "${{ store.data }}" }),
  node("processor", ["merger"], null, { chunk: "${{ data_splitter.outputs.chunk }}" }),
  node("merger", null, "data_splitter", { processed_data: "${{ processor.outputs.result }}" }),
];

describe("validateGraphStructure", () => {
  it("computes parents and paths of a linear graph whose last node unites the first", () => {
    const { root, parents, paths } = validateGraphStructure(
      [node("node1", ["node2"]), node("node2", ["node3"]), node("node3", null, "node1")],
      noStore,
    );
    expect(root.identifier).toBe("node1");
    expect(parents.get("node1")).toEqual(new Set());
    expect(parents.get("node2")).toEqual(new Set(["node1"]));
    expect(parents.get("node3")).toEqual(new Set(["node1"]));
    expect(paths.get("node3")).toEqual(new Set(["node1", "node2"]));
  });

  it.each([
    ["node2", "node3"],
    ["node3", "node2"],
  ])("gives a unite node its target's parents whatever the next_nodes order (%s, %s)", (a, b) => {
    const { parents, paths } = validateGraphStructure(
      [node("node1", [a, b]), node("node2"), node("node3", null, "node2")],
      noStore,
    );
    expect(parents.get("node1")).toEqual(new Set());
    expect(parents.get("node2")).toEqual(new Set(["node1"]));
    expect(parents.get("node3")).toEqual(new Set(["node1", "node2"]));
    expect(paths.get("node1")).toEqual(new Set());
    expect(paths.get("node2")).toEqual(new Set(["node1"]));
    expect(paths.get("node3")).toEqual(new Set(["node1"]));
  });

  it("lets a node with two incoming edges collect parents from both", () => {
    const { parents } = validateGraphStructure(
      [node("a", ["b", "c"]), node("b", ["d"]), node("c", ["d"]), node("d")],
      noStore,
    );
    expect(parents.get("d")).toEqual(new Set(["a", "b", "c"]));
  });

  it("accepts the seed graph whose merger reads the processor inside the united subtree", () => {
    const store: StoreConfig = { required_keys: ["data"], default_values: {} };
    const { root, parents } = validateGraphStructure(seedGraph(), store);
    expect(root.identifier).toBe("data_splitter");
    // The template-level parents stay Exosphere's; the subtree is an extra readable set.
    expect(parents.get("merger")).toEqual(new Set(["data_splitter"]));
  });

  it("still rejects a non-unite node that reads a node beside it", () => {
    const error = structureError([
      node("a", ["b", "c"]),
      node("b"),
      node("c", null, null, { x: "${{ b.outputs.y }}" }),
    ]);
    expect(error.message).toBe("Input ${{ b.outputs.y }} depends on b but b is not a parent of c");
  });

  it("rejects a unite node reading a node that runs after it", () => {
    const error = structureError([
      node("t", ["p"]),
      node("p", ["u"]),
      node("u", ["after"], "t", { x: "${{ after.outputs.y }}" }),
      node("after"),
    ]);
    expect(error.message).toBe(
      "Input ${{ after.outputs.y }} depends on after but after is not a parent of u",
    );
  });

  it("rejects a unite node reading a node outside its target's subtree", () => {
    const error = structureError([
      node("root", ["t", "side"]),
      node("t", ["p"]),
      node("p", ["u"]),
      node("side"),
      node("u", null, "t", { x: "${{ side.outputs.y }}" }),
    ]);
    expect(error.message).toBe("Input ${{ side.outputs.y }} depends on side but side is not a parent of u");
  });

  it("rejects duplicate identifiers before anything else", () => {
    const error = structureError([node("node1", ["missing"]), node("node1"), node("node2"), node("node2")]);
    expect(error.message).toBe("Node identifier node1 is not unique\nNode identifier node2 is not unique");
    expect(error.violations).toHaveLength(2);
  });

  it("rejects next nodes that do not exist", () => {
    expect(structureError([node("node1", ["node2"]), node("node2", ["node3", "node4"])]).message).toBe(
      "Node identifier node3 does not exist in the graph\nNode identifier node4 does not exist in the graph",
    );
  });

  it("rejects a unites target that does not exist", () => {
    expect(structureError([node("node1", ["node2"]), node("node2", null, "node3")]).message).toBe(
      "Node node2 has an unites target node3 that does not exist",
    );
  });

  it("rejects a node that unites itself", () => {
    expect(structureError([node("node1", null, "node1")]).message).toBe(
      "Node node1 has an unites target node1 that is the same as the node itself",
    );
  });

  it("rejects a graph without nodes", () => {
    expect(structureError([]).message).toBe(
      "There should be exactly one root node in the graph but found 0 nodes with zero in-degree: []",
    );
  });

  it("counts a unites target as an incoming edge when looking for the root", () => {
    expect(
      structureError([
        node("node1", ["node2"], "node2"),
        node("node2", ["node3"]),
        node("node3", null, "node1"),
      ]).message,
    ).toBe(
      "There should be exactly one root node in the graph but found 0 nodes with zero in-degree: []. " +
        "The nodes that no next_nodes lists all unite another node, so none can be the root: node1 unites node2.",
    );
  });

  it("says that a graph without a root has a cycle, and names the nodes on it in order", () => {
    expect(
      structureError([node("a", ["b"]), node("b", ["c"]), node("c", ["d", "a"]), node("d")]).message,
    ).toBe(
      "There should be exactly one root node in the graph but found 0 nodes with zero in-degree: []. " +
        "The graph has a cycle: a -> b -> c -> a.",
    );
  });

  it("names a node that lists itself as a cycle", () => {
    expect(structureError([node("s", ["s"])]).message).toBe(
      "There should be exactly one root node in the graph but found 0 nodes with zero in-degree: []. " +
        "The graph has a cycle: s -> s.",
    );
  });

  it("names a cycle that does not start at the first node, beside a node that only unites", () => {
    expect(structureError([node("u", null, "y"), node("y", ["z"]), node("z", ["y"])]).message).toBe(
      "There should be exactly one root node in the graph but found 0 nodes with zero in-degree: []. " +
        "The graph has a cycle: y -> z -> y. " +
        "The nodes that no next_nodes lists all unite another node, so none can be the root: u unites y.",
    );
  });

  it("lists the roots in Pydantic's repr when there are several", () => {
    const two = [
      node("a", ["b"], null, { k: "v", n: 1, flag: true, none: null }),
      { ...node("c", null, "a"), unites: null },
      node("b"),
    ];
    expect(() => findRoot(two)).toThrow(
      "There should be exactly one root node in the graph but found 2 nodes with zero in-degree: [" +
        "NodeTemplate(node_name='a', namespace='test_namespace', identifier='a', inputs={'k': 'v', 'n': 1, 'flag': True, 'none': None}, next_nodes=['b'], unites=None), " +
        "NodeTemplate(node_name='c', namespace='test_namespace', identifier='c', inputs={}, next_nodes=None, unites=None)]",
    );
  });

  it("rejects mutually uniting nodes as a disconnected graph", () => {
    expect(
      structureError([
        node("node1", ["node3", "node2"]),
        node("node2"),
        node("node3", null, "node4"),
        node("node4", null, "node3"),
      ]).message,
    ).toBe("Error building dependency graph: Graph is disconnected at: {'node4': ['node3']}");
  });

  it("rejects a unite node that no next_nodes list reaches", () => {
    expect(structureError([node("node1"), node("node2", null, "node1")]).message).toBe(
      "Node node2 is not connected to the root node",
    );
  });

  it("never traverses the children of a unite node deferred before its target, as Exosphere does", () => {
    // The unite node u is reached through a before t, so its own child c never gets the root as a parent.
    expect(
      structureError([node("r", ["a", "t"]), node("a", ["u"]), node("t"), node("u", ["c"], "t"), node("c")])
        .message,
    ).toBe("Node c is not connected to the root node");
    // Listing t first visits the target before the unite node, and the same graph is accepted.
    expect(() =>
      validateGraphStructure(
        [node("r", ["t", "a"]), node("a", ["u"]), node("t"), node("u", ["c"], "t"), node("c")],
        noStore,
      ),
    ).not.toThrow();
  });

  it("rejects a cycle below the root", () => {
    expect(
      structureError([node("node1", ["node2"]), node("node2", ["node3"]), node("node3", ["node2"])]).message,
    ).toBe("Node node2 is not acyclic");
  });

  it("rejects a cycle that passes through a unite node", () => {
    expect(
      structureError([node("node1", ["node2"]), node("node2", ["node3"]), node("node3", ["node2"], "node1")])
        .message,
    ).toBe("Node node2 is not acyclic");
  });

  it("rejects a non-string input with Python's text for the value", () => {
    const error = structureError([node("a", null, null, { n: 5, o: { x: [1, "y"] }, ok: "fine" })]);
    expect(error.message).toBe("Input 5 is not a string\nInput {'x': [1, 'y']} is not a string");
  });

  it("rejects an unclosed placeholder", () => {
    const error = structureError([
      node("node1", ["node2"]),
      node("node2", null, null, { a: "${{node1.outputs.output1" }),
    ]);
    expect(error.message).toBe(
      "Error creating dependent string for input ${{node1.outputs.output1 check syntax string: " +
        "Invalid syntax string placeholder node1.outputs.output1 for: ${{node1.outputs.output1 '${{' not closed",
    );
  });

  it("rejects a node reading itself, a non-parent, or an undeclared store key, in that order", () => {
    const error = structureError(
      [
        node("node1", ["node2"]),
        node("node2", null, null, { a: "${{node2.outputs.x}} ${{store.k}} ${{store.d}}" }),
      ],
      { required_keys: [], default_values: { d: "1" } },
    );
    expect(error.violations).toEqual([
      "Input ${{node2.outputs.x}} ${{store.k}} ${{store.d}} depends on node2 but node2 is not a parent of node2",
      "Input ${{node2.outputs.x}} ${{store.k}} ${{store.d}} depends on k but k is not a required key or a default value",
    ]);
  });

  it("lets the root read only declared store keys", () => {
    expect(() =>
      validateGraphStructure([node("r", null, null, { a: "${{ store.k }}" })], {
        required_keys: ["k"],
        default_values: {},
      }),
    ).not.toThrow();
    expect(structureError([node("r", null, null, { a: "${{ store.outputs.k }}" })]).message).toBe(
      "Input ${{ store.outputs.k }} depends on k but k is not a required key or a default value",
    );
  });
});

describe("unitedSubtree", () => {
  it("holds the nodes between the target and the unite node", () => {
    const nodes = seedGraph();
    const merger = nodes[2] as NodeTemplate;
    expect(unitedSubtree(nodes, merger)).toEqual(new Set(["processor"]));
  });

  it("excludes the target, the unite node and what runs after it", () => {
    const nodes = [
      node("t", ["a", "b"]),
      node("a", ["u"]),
      node("b", ["c"]),
      node("c"),
      node("u", ["z"], "t"),
      node("z"),
    ];
    expect(subtreeNodes(nodes, "t")).toEqual(new Set(["a", "b", "c", "u", "z"]));
    expect(unitedSubtree(nodes, nodes[4] as NodeTemplate)).toEqual(new Set(["a", "b", "c"]));
  });

  it("is empty for a node without unites", () => {
    const nodes = seedGraph();
    expect(unitedSubtree(nodes, nodes[1] as NodeTemplate)).toEqual(new Set());
  });
});
