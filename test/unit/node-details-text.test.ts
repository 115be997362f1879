// A state's node view as JSON text in parts: the inputs' stored chunks pass through as they are, so the
// route can stream a state of megabytes without joining, parsing or serializing it again.
import { describe, expect, it } from "vitest";
import { type NodeDetailsParts, nodeDetailsText } from "../../src/engine/run/views";

const details: NodeDetailsParts["details"] = {
  id: "r1.7",
  node_name: "P",
  identifier: "p",
  graph_name: "g",
  run_id: "run-1",
  status: "QUEUED",
  outputs: { n: 3 },
  error: null,
  parents: { split: "r1.1" },
  created_at: "2026-12-05T00:00:00",
  updated_at: "2026-12-05T00:00:01",
};

/** The stored JSON text of `value`, cut into chunks of `size` characters as the run rows keep it. */
function chunked(value: unknown, size: number): string[] {
  const text = JSON.stringify(value);
  const chunks: string[] = [];
  for (let at = 0; at < text.length; at += size) chunks.push(text.slice(at, at + size));
  return chunks;
}

describe("nodeDetailsText", () => {
  it("keeps each stored chunk of the inputs as its own part, and joined is the view in Exosphere's field order", () => {
    const inputs = { v: "x".repeat(10_000), w: 'quote " and \\ backslash' };
    const chunks = chunked(inputs, 1_000);
    const parts = nodeDetailsText({ details, inputs: chunks });
    // Every chunk is passed on as the very string stored, never joined into a larger one.
    for (const chunk of chunks) expect(parts.filter((p) => p === chunk).length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...parts.map((p) => p.length))).toBe(1_000);
    const view = JSON.parse(parts.join(""));
    expect(view).toEqual({ ...details, inputs });
    expect(Object.keys(view)).toEqual([
      "id",
      "node_name",
      "identifier",
      "graph_name",
      "run_id",
      "status",
      "inputs",
      "outputs",
      "error",
      "parents",
      "created_at",
      "updated_at",
    ]);
  });

  it("adds the extra fields after the view's own", () => {
    const parts = nodeDetailsText(
      { details, inputs: ['{"a":"1"}'] },
      { waiting_since: "2026-12-05T00:00:01", served_by: [] },
    );
    const view = JSON.parse(parts.join(""));
    expect(view.inputs).toEqual({ a: "1" });
    expect(Object.keys(view).slice(-2)).toEqual(["waiting_since", "served_by"]);
    expect(view.served_by).toEqual([]);
  });
});
