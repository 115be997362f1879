// The example nodes at a million, in a Node process whose heap is capped well under a Worker isolate's
// 128 MB: the splitter yields its chunks and the merger sums its input as they read it, so neither holds a
// million values at once. Before they did, the merger needed over 96 MB of heap and the splitter over
// 48 MB for a million; both now run in 40 MB, the input text included. Plain JavaScript, as
// scripts.test.mjs: the child bundles the sources with the scripts' loader.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const HEAP_MB = 40;
const N = 1_000_000;

/** The child: builds a million-element input without a rope string, runs one node, prints the outcome. */
const child = (body) => `
const { loadTs } = await import(${JSON.stringify(pathToFileURL(join(root, "scripts/lib/load-ts.mjs")).href)});
const m = await loadTs(["src/sdk/execute.ts", "examples/runtime/src/nodes.ts"]);
/** [item(1),…,item(${N})] as one flat string, built a thousand items at a time. */
const arrayText = (item) => {
  const parts = [];
  for (let b = 0; b < ${N / 1000}; b++) parts.push(Array.from({ length: 1000 }, (_, i) => item(b * 1000 + i + 1)).join(","));
  return "[" + parts.join(",") + "]";
};
${body}
`;

function runCapped(body) {
  const argv = [`--max-old-space-size=${HEAP_MB}`, "--input-type=module", "-e", child(body)];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr: stderr.slice(-500) });
    });
  });
}

describe(`the example nodes at a million items, in ${HEAP_MB} MB of heap`, { timeout: 90_000 }, () => {
  it("ResultMergerNode sums a million results", async () => {
    const result = await runCapped(`
const out = await m.executeNode(new m.ResultMergerNode(), { processed_data: arrayText((i) => '"' + i + '"') }, {}, { stateId: "m" });
console.log(JSON.stringify(out));`);
    expect(result).toMatchObject({ code: 0 });
    expect(JSON.parse(result.stdout)).toEqual({
      type: "executed",
      outputs: [{ merged: String((N * (N + 1)) / 2) }],
    });
  });

  it("DataSplitterNode splits a million items into chunks of one, streamed in pages", async () => {
    const result = await runCapped(`
let streamed = 0, first;
const out = await m.executeNode(new m.DataSplitterNode(), { data: arrayText((i) => String(i)), chunk_size: "1" }, {}, {
  stateId: "s",
  stream: { pageSize: 25000, onPage: async (outputs) => { first ??= outputs[0]; streamed += outputs.length; return true; } },
});
console.log(JSON.stringify({ type: out.type, streamed, last: out.outputs.length, first, final: out.outputs.at(-1) }));`);
    expect(result).toMatchObject({ code: 0 });
    expect(JSON.parse(result.stdout)).toEqual({
      type: "executed",
      streamed: N - 25_000,
      last: 25_000,
      first: { chunk: "[1]" },
      final: { chunk: `[${N}]` },
    });
  });
});
