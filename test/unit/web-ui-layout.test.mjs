// The web page's graph layout (a plain module of the page, run here in Node): a node's column is its
// longest path from the root, a unite comes after the subtree it waits on.
import { describe, expect, it } from "vitest";
import { layout } from "../../public/ui/graph-layout.js";

const node = (identifier, next = [], unites = null) => ({ identifier, next_nodes: next, unites });

describe("layout", () => {
  it("puts the seed graph in three columns, the unite edge marked", () => {
    const { columns, edges } = layout([
      node("data_splitter", ["processor"]),
      node("processor", ["merger"]),
      node("merger", [], { identifier: "data_splitter" }),
    ]);
    expect(columns).toEqual([["data_splitter"], ["processor"], ["merger"]]);
    expect(edges).toEqual([
      { from: "data_splitter", to: "processor", unites: false },
      { from: "processor", to: "merger", unites: false },
      { from: "data_splitter", to: "merger", unites: true },
    ]);
  });

  it("places a node after its longest path, and a unite after the subtree it waits on", () => {
    const { columns } = layout([
      node("root", ["a", "b"]),
      node("a", ["c"]),
      node("c", ["d"]),
      node("b", ["d"]),
      node("d"),
      node("join", [], { identifier: "c" }),
    ]);
    expect(columns).toEqual([["root"], ["a", "b"], ["c"], ["d", "join"]]);
  });

  it("ends on a cycle (a graph the engine would have refused) instead of looping", () => {
    const { columns } = layout([node("x", ["y"]), node("y", ["x"])]);
    expect(columns.flat().sort()).toEqual(["x", "y"]);
  });
});
