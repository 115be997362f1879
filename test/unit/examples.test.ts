import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DataProcessorNode,
  DataSplitterNode,
  exampleNodes,
  ResultMergerNode,
  splitProcessGraph,
  splitProcessMergeGraph,
} from "../../examples/runtime/src";
import { addDecimals, formatDecimal, parseDecimal, sumDecimals } from "../../examples/runtime/src/decimal";
import { forEachJsonString, topLevelElements } from "../../examples/runtime/src/json-array";
import type { RegisteredNode } from "../../src/engine/model";
import { verifyGraph } from "../../src/engine/template/registry-check";
import { upsertGraphBodySchema } from "../../src/engine/template/request-schema";
import { validateGraphStructure } from "../../src/engine/template/structure";
import { type AnyNode, type ExecuteOutcome, executeNode, toRegisteredNode } from "../../src/sdk";

const ctx = { stateId: "s", runId: "r" };
const run = (node: AnyNode, inputs: Record<string, unknown>) => executeNode(node, inputs, {}, ctx);
const outputsOf = (outcome: ExecuteOutcome) => {
  if (outcome.type !== "executed") throw new Error(`expected executed, got ${JSON.stringify(outcome)}`);
  return outcome.outputs;
};
const errorOf = (outcome: ExecuteOutcome) =>
  outcome.type === "errored" ? outcome.error : `not errored: ${outcome.type}`;

const splitter = new DataSplitterNode();
const processor = new DataProcessorNode();
const merger = new ResultMergerNode();

describe("DataSplitterNode", () => {
  it("splits into consecutive chunks, one output each, the last one shorter", async () => {
    expect(outputsOf(await run(splitter, { data: "[1,2,3,4,5]", chunk_size: "2" }))).toEqual([
      { chunk: "[1,2]" },
      { chunk: "[3,4]" },
      { chunk: "[5]" },
    ]);
  });

  it("gives zero outputs for an empty array", async () => {
    expect(outputsOf(await run(splitter, { data: "[]", chunk_size: "3" }))).toEqual([]);
    expect(outputsOf(await run(splitter, { data: " [ ] ", chunk_size: "3" }))).toEqual([]);
  });

  it("gives one chunk when chunk_size covers the whole array", async () => {
    expect(outputsOf(await run(splitter, { data: "[1, 2, 3]", chunk_size: "10" }))).toEqual([
      { chunk: "[1,2,3]" },
    ]);
  });

  it("keeps each element's exact text, including nested values and big integers", async () => {
    const data = '[ 9007199254740993, 1.50, {"a": [1, "x,]"]}, "q\\"uote", [2, 3] ]';
    expect(outputsOf(await run(splitter, { data, chunk_size: "2" }))).toEqual([
      { chunk: "[9007199254740993,1.50]" },
      { chunk: '[{"a": [1, "x,]"]},"q\\"uote"]' },
      { chunk: "[[2, 3]]" },
    ]);
  });

  it.each([
    [{ data: "not json", chunk_size: "1" }, /^Input 'data' is not valid JSON/],
    [{ data: '{"a": 1}', chunk_size: "1" }, "Input 'data' must be a JSON array, got an object"],
    [{ data: "5", chunk_size: "1" }, "Input 'data' must be a JSON array, got a number"],
    [{ data: "[1]", chunk_size: "0" }, "Input 'chunk_size' must be at least 1, got 0"],
    [{ data: "[1]", chunk_size: "-2" }, "Input 'chunk_size' must be a whole number, got '-2'"],
    [{ data: "[1]", chunk_size: "1.5" }, "Input 'chunk_size' must be a whole number, got '1.5'"],
    [{ data: "[1]", chunk_size: "two" }, "Input 'chunk_size' must be a whole number, got 'two'"],
    [{ data: "[1]", chunk_size: "" }, "Input 'chunk_size' must be a whole number, got ''"],
    [{ data: "[1]", chunk_size: "99999999999999999999" }, /^Input 'chunk_size' is too large/],
    [{ data: "[1]" }, /^Invalid inputs for node 'DataSplitterNode': field 'chunk_size'/],
  ])("errors on bad input %j", async (inputs, message) => {
    const error = errorOf(await run(splitter, inputs));
    if (typeof message === "string") expect(error).toBe(message);
    else expect(error).toMatch(message);
  });
});

describe("DataProcessorNode", () => {
  it("sums a chunk into a decimal string", async () => {
    expect(outputsOf(await run(processor, { data: "[1,2,3]" }))).toEqual([{ result: "6" }]);
    expect(outputsOf(await run(processor, { data: "[-5, 2]" }))).toEqual([{ result: "-3" }]);
    expect(outputsOf(await run(processor, { data: "[]" }))).toEqual([{ result: "0" }]);
  });

  it("is exact for integers at and beyond 2^53", async () => {
    expect(outputsOf(await run(processor, { data: "[9007199254740992, 1]" }))).toEqual([
      { result: "9007199254740993" },
    ]);
    expect(outputsOf(await run(processor, { data: "[9007199254740993, 9007199254740993]" }))).toEqual([
      { result: "18014398509481986" },
    ]);
    expect(outputsOf(await run(processor, { data: "[123456789012345678901234567890, 1]" }))).toEqual([
      { result: "123456789012345678901234567891" },
    ]);
  });

  it("is exact for decimals and exponents", async () => {
    expect(outputsOf(await run(processor, { data: "[0.1, 0.2]" }))).toEqual([{ result: "0.3" }]);
    expect(outputsOf(await run(processor, { data: "[1.50, 2.5, 1e3, 25E-2]" }))).toEqual([
      { result: "1004.25" },
    ]);
    expect(outputsOf(await run(processor, { data: "[0.5, -0.5]" }))).toEqual([{ result: "0" }]);
  });

  it.each([
    [{ data: "[1, oops]" }, /^Input 'data' is not valid JSON/],
    [{ data: "3" }, "Input 'data' must be a JSON array, got a number"],
    [{ data: '[1, "2"]' }, "Input 'data' must be an array of numbers; element 1 is a string"],
    [{ data: "[1, [2]]" }, "Input 'data' must be an array of numbers; element 1 is an array"],
    [{ data: "[1, null]" }, "Input 'data' must be an array of numbers; element 1 is null"],
    [{ data: "[1e999]" }, /^Input 'data': '1e999' is outside the supported range/],
  ])("errors on bad input %j", async (inputs, message) => {
    const error = errorOf(await run(processor, inputs));
    if (typeof message === "string") expect(error).toBe(message);
    else expect(error).toMatch(message);
  });
});

describe("ResultMergerNode", () => {
  it("merges the results of a million branches", async () => {
    const n = 1_000_000;
    const results = JSON.stringify(Array.from({ length: n }, (_, i) => String(i + 1)));
    expect(outputsOf(await run(merger, { processed_data: results }))).toEqual([
      { merged: String((n * (n + 1)) / 2) },
    ]);
  });

  it("adds up the processed results", async () => {
    expect(outputsOf(await run(merger, { processed_data: '["3","7","5"]' }))).toEqual([{ merged: "15" }]);
    expect(outputsOf(await run(merger, { processed_data: '["0.1","0.2","-1"]' }))).toEqual([
      { merged: "-0.7" },
    ]);
    expect(outputsOf(await run(merger, { processed_data: "[]" }))).toEqual([{ merged: "0" }]);
    expect(
      outputsOf(await run(merger, { processed_data: '["9007199254740993","9007199254740993"]' })),
    ).toEqual([{ merged: "18014398509481986" }]);
  });

  it.each([
    [{ processed_data: "nope" }, /^Input 'processed_data' is not valid JSON/],
    [{ processed_data: '"6"' }, "Input 'processed_data' must be a JSON array, got a string"],
    [
      { processed_data: "[6]" },
      "Input 'processed_data' must be an array of decimal strings; element 0 is a number",
    ],
    [{ processed_data: '["1", "abc"]' }, "Input 'processed_data' element 1: 'abc' is not a decimal number"],
    [{ processed_data: '[" 1"]' }, "Input 'processed_data' element 0: ' 1' is not a decimal number"],
  ])("errors on bad input %j", async (inputs, message) => {
    const error = errorOf(await run(merger, inputs));
    if (typeof message === "string") expect(error).toBe(message);
    else expect(error).toMatch(message);
  });
});

describe("the pipeline", () => {
  it("splits, processes each chunk and merges to the exact total", async () => {
    const data = JSON.stringify(Array.from({ length: 101 }, (_, i) => i + 1));
    const chunks = outputsOf(await run(splitter, { data, chunk_size: "7" }));
    expect(chunks).toHaveLength(15);
    const results: string[] = [];
    for (const { chunk } of chunks)
      results.push(outputsOf(await run(processor, { data: chunk }))[0]?.result ?? "");
    const merged = outputsOf(await run(merger, { processed_data: JSON.stringify(results) }));
    expect(merged).toEqual([{ merged: String((101 * 102) / 2) }]);
  });
});

/** Every string forEachJsonString hands out, or null when it answers false. */
function stringsOf(text: string): string[] | null {
  const seen: string[] = [];
  return forEachJsonString(text, (value) => {
    seen.push(value);
    return true;
  })
    ? seen
    : null;
}

/** JSON text of `values` with JSON whitespace (space, tab, newline, return) around every token. */
const spaced = (values: string[], ws: string[]) => {
  const at = (i: number) => ws[i % ws.length] ?? "";
  return `${at(0)}[${values.map((v, i) => `${at(i + 1)}${JSON.stringify(v)}${at(i + 2)}`).join(",")}]${at(1)}`;
};
const whitespace = fc.array(fc.stringMatching(/^[ \t\n\r]{0,3}$/), { minLength: 1, maxLength: 4 });

describe("reading a JSON array of strings one element at a time", () => {
  it("hands out exactly the elements of any array of strings, escapes and whitespace included", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" })), whitespace, (values, ws) => {
        expect(stringsOf(spaced(values, ws))).toEqual(values);
        expect(stringsOf(JSON.stringify(values))).toEqual(values);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts a text only when it is a JSON array of strings, with the values JSON.parse reads", () => {
    // Arbitrary texts, and arrays of strings with one character replaced, removed or inserted.
    const mutated = fc
      .tuple(
        fc.array(fc.string()),
        fc.nat(),
        fc.constantFrom("replace", "remove", "insert"),
        fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      )
      .map(([values, at, how, ch]) => {
        const text = JSON.stringify(values);
        const i = at % (text.length + 1);
        if (how === "remove") return text.slice(0, i) + text.slice(i + 1);
        if (how === "insert") return text.slice(0, i) + ch + text.slice(i);
        return text.slice(0, i) + ch + text.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.json(), mutated), (text) => {
        const strings = stringsOf(text);
        if (strings === null) return;
        expect(JSON.parse(text)).toEqual(strings);
      }),
      { numRuns: 3000 },
    );
  });

  it("stops where its callback says no", () => {
    const seen: string[] = [];
    expect(forEachJsonString('["a","b","c"]', (v) => seen.push(v) < 2)).toBe(false);
    expect(seen).toEqual(["a", "b"]);
  });
});

describe("the splitter's elements, one at a time", () => {
  it("are the source texts of the elements JSON.parse reads", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), whitespace, (values, ws) => {
        const text = `${ws[0]}[${values.map((v) => `${ws[1 % ws.length]}${JSON.stringify(v)}`).join(",")}]`;
        const elements = [...topLevelElements(text)];
        expect(elements.map((e) => JSON.parse(e))).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });
});

describe("the merger's running sum", () => {
  const decimalText = fc
    .tuple(
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
      fc.integer({ min: -20, max: 20 }),
      fc.boolean(),
    )
    .map(([digits, exp, asExponent]) => {
      const sign = digits < 0n ? "-" : "";
      const whole = (digits < 0n ? -digits : digits).toString();
      if (asExponent) return `${sign}${whole}e${exp}`;
      if (exp >= 0) return `${sign}${whole}`;
      const padded = whole.padStart(-exp + 1, "0");
      return `${sign}${padded.slice(0, exp)}.${padded.slice(exp)}`;
    });

  it("adds up to the total of the whole list", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(decimalText, { maxLength: 40 }), async (texts) => {
        const values = texts.map((t) => {
          const d = parseDecimal(t);
          if (typeof d === "string") throw new Error(d);
          return d;
        });
        const merged = outputsOf(await run(merger, { processed_data: JSON.stringify(texts) }));
        expect(merged).toEqual([{ merged: formatDecimal(sumDecimals(values)) }]);
        const running = values.reduce((sum, v) => addDecimals(sum, v), { digits: 0n, exponent: 0 });
        expect(formatDecimal(running)).toBe(formatDecimal(sumDecimals(values)));
      }),
      { numRuns: 300 },
    );
  });
});

describe("decimal formatting", () => {
  it.each([
    ["0", "0"],
    ["-0", "0"],
    ["0.000", "0"],
    ["1e2", "100"],
    ["-1.2500", "-1.25"],
    ["5e-3", "0.005"],
    ["123.456e1", "1234.56"],
  ])("%s reads back as %s", (text, expected) => {
    const parsed = parseDecimal(text);
    if (typeof parsed === "string") throw new Error(parsed);
    expect(formatDecimal(sumDecimals([parsed]))).toBe(expected);
  });
});

describe("registration and graphs", () => {
  const registry = new Map<string, RegisteredNode>(
    exampleNodes().map((node) => {
      const reg = toRegisteredNode(node);
      return [
        reg.name,
        {
          ...reg,
          namespace: "examples",
          runtime_name: "examples",
          runtime_namespace: "examples",
          transport: "queue",
        },
      ];
    }),
  );

  it("registers the three nodes under their seed names with string schemas", () => {
    expect([...registry.keys()]).toEqual(["DataSplitterNode", "DataProcessorNode", "ResultMergerNode"]);
    expect(registry.get("DataSplitterNode")?.inputs_schema).toMatchObject({
      type: "object",
      properties: { data: { type: "string" }, chunk_size: { type: "string" } },
      required: ["data", "chunk_size"],
    });
    expect(registry.get("ResultMergerNode")?.outputs_schema).toMatchObject({
      properties: { merged: { type: "string" } },
    });
  });

  it.each([
    ["splitProcessGraph", splitProcessGraph],
    ["splitProcessMergeGraph", splitProcessMergeGraph],
  ])(
    "%s is a valid upsert body, structurally sound, whose nodes verify against the registered examples",
    (_name, graph) => {
      const body = upsertGraphBodySchema.parse(graph);
      // The merge graph's merger reads processor inside the subtree it unites: accepted here by design.
      expect(() => validateGraphStructure(body.nodes, body.store_config)).not.toThrow();
      expect(body.secrets).toEqual({});
      expect(body.nodes.every((n) => n.namespace === "examples")).toBe(true);
      expect(
        verifyGraph(body.nodes, Object.keys(body.secrets), (name, ns) =>
          ns === "examples" ? registry.get(name) : undefined,
        ),
      ).toEqual([]);
    },
  );

  it("wires the merge graph as the seed does", () => {
    const [splitterNode, processorNode, mergerNode] = splitProcessMergeGraph.nodes;
    expect(splitterNode).toMatchObject({
      identifier: "data_splitter",
      inputs: { data: "[]", chunk_size: "1" },
    });
    expect(processorNode).toMatchObject({
      identifier: "processor",
      inputs: { data: "${{ data_splitter.outputs.chunk }}" },
      next_nodes: ["merger"],
    });
    expect(mergerNode).toMatchObject({
      identifier: "merger",
      inputs: { processed_data: "${{ processor.outputs.result }}" },
      unites: { identifier: "data_splitter" },
    });
  });
});
