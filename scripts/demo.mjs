#!/usr/bin/env node
// `npm run demo -- --items 100000 --chunk-size 100`: against a running `npm start`, upserts the seed's
// split → process → merge graph, triggers it, shows progress, and prints the merged total and the counts.
import { parseArgs } from "node:util";
import { loadTs } from "./lib/load-ts.mjs";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "1000" },
    "chunk-size": { type: "string", default: "1" },
    uri: { type: "string", default: process.env.EXOSPHERE_STATE_MANAGER_URI ?? "http://127.0.0.1:8787" },
    key: {
      type: "string",
      default: process.env.EXOSPHERE_API_KEY ?? process.env.STATE_MANAGER_SECRET ?? "exoflare-local-key",
    },
    graph: { type: "string", default: "seed_split_process_merge" },
  },
});
const items = Number(values.items);
const chunkSize = Number(values["chunk-size"]);
if (!Number.isInteger(items) || items < 0 || !Number.isInteger(chunkSize) || chunkSize < 1) {
  console.error("--items must be an integer ≥ 0 and --chunk-size an integer ≥ 1");
  process.exit(2);
}

const { StateManager } = await loadTs("src/client/index.ts");
const { splitProcessMergeGraph } = await loadTs("src/examples/graphs.ts");
const sm = new StateManager({ namespace: "examples", uri: values.uri, key: values.key });

console.log(`upserting graph examples/${values.graph} ...`);
await sm.upsertGraph(values.graph, splitProcessMergeGraph.nodes, { secrets: {} });

const data = JSON.stringify(Array.from({ length: items }, (_, i) => i + 1));
const started = performance.now();
const { run_id: runId } = await sm.trigger(values.graph, { inputs: { data, chunk_size: String(chunkSize) } });
const branches = Math.ceil(items / chunkSize);
console.log(`run ${runId}: ${items} items in ${branches} branches`);

const bar = (done, total, width = 40) => {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
};
let row;
for (;;) {
  const page = await sm.runs(1, 100);
  row = page.runs.find((r) => r.run_id === runId);
  if (row) {
    // Every branch is one processor state; the splitter's states and the merger are the rest.
    const processed = Math.max(0, row.success_count + row.errored_count - Math.max(branches, 1));
    const done = Math.min(processed, branches);
    process.stdout.write(`\r${bar(done, branches)} ${done}/${branches} branches done`);
    if (row.pending_count === 0) break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write("\n");

const view = await sm.runGraph(runId);
const merger = view.nodes.find((n) => n.identifier === "merger");
const details = merger ? await sm.stateDetails(values.graph, runId, merger.id) : undefined;
const expected = (items * (items + 1)) / 2;
console.log(`merged: ${details?.outputs?.merged ?? "(no merger)"} (expected ${expected})`);
console.log(
  `run ${row.status} in ${seconds.toFixed(1)} s: success ${row.success_count}, pending ${row.pending_count}, errored ${row.errored_count}, retried ${row.retried_count}, total ${row.total_count}`,
);
process.exit(row.status === "SUCCESS" && details?.outputs?.merged === String(expected) ? 0 : 1);
