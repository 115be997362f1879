#!/usr/bin/env node
// `npm run demo -- --items 100000 --chunk-size 100`: against a running `npm start`, upserts the seed's
// split → process → merge graph, triggers it, shows progress, and prints the merged total and the counts.
// `npm run demo -- --help` lists the options.
import { intOption, oneLine, parseCli, runMain, ScriptError } from "./lib/cli.mjs";
import { checkUri, connectionOptions, engineFetch, listNodes, RefusedError } from "./lib/engine.mjs";
import { loadTs } from "./lib/load-ts.mjs";
import { jsonRange, rangeSum, watchSeedRun } from "./lib/seed-run.mjs";

const { values, usage } = parseCli({
  name: "demo",
  command: "npm run demo",
  summary:
    "Sums 1..N on a running engine (`npm start`) with the seed's split -> process -> merge graph:\n" +
    "upserts the graph in namespace `examples`, triggers it, shows a progress bar, and checks the merged total.",
  options: {
    items: { type: "string", value: "N", default: "1000", description: "how many numbers to sum" },
    "chunk-size": {
      type: "string",
      value: "N",
      default: "1",
      description: "numbers per branch (N / chunk size branches)",
    },
    graph: {
      type: "string",
      value: "NAME",
      default: "seed_split_process_merge",
      description: "name of the graph template to upsert",
    },
    ...connectionOptions(),
    "stall-timeout": {
      type: "string",
      value: "SECONDS",
      default: "300",
      description: "give up when the run's counts have not moved for this long",
    },
  },
  epilog:
    "Exit codes: 0 the run succeeded with the right total, 1 it did not (one line says why), 2 bad options.",
});
const items = intOption(usage, "items", values.items, { min: 0 });
const chunkSize = intOption(usage, "chunk-size", values["chunk-size"], { min: 1 });
const stallMs = intOption(usage, "stall-timeout", values["stall-timeout"], { min: 1 }) * 1000;
const uri = checkUri(usage, values.uri);

await runMain("demo", async () => {
  const { StateManager, splitProcessMergeGraph, runKeyOfRunId, stateIdOf } = await loadTs([
    "src/client/index.ts",
    "examples/runtime/src/graphs.ts",
    "src/engine/ids.ts",
  ]);
  /** How long the trigger's answer may take (a local engine splitting a million items is busy for minutes). */
  const TRIGGER_TIMEOUT_MS = 15 * 60_000;
  const sm = new StateManager({
    namespace: "examples",
    uri,
    key: values.key,
    fetch: engineFetch({ uri, refuseErrors: true }),
  });
  const graph = values.graph;

  console.log(`upserting graph examples/${graph} ...`);
  await sm.upsertGraph(graph, splitProcessMergeGraph.nodes, { secrets: {} });

  const branches = Math.ceil(items / chunkSize);
  const data = jsonRange(items);
  const size =
    data.length < 1e6 ? `${Math.ceil(data.length / 1e3)} kB` : `${(data.length / 1e6).toFixed(1)} MB`;
  console.log(`triggering a run: ${items} items (${size} of JSON) in ${branches} branches`);
  // Locally one workerd thread runs the engine and the push runtime: while a wide splitter reports its
  // pages, the trigger's answer waits its turn (minutes at a million branches), so it gets a longer wait.
  if (branches > 100_000)
    console.log("(a split this wide keeps a local engine busy: its answer can take minutes)");
  const triggering = new StateManager({
    namespace: "examples",
    uri,
    key: values.key,
    fetch: engineFetch({ uri, refuseErrors: true, timeoutMs: TRIGGER_TIMEOUT_MS }),
  });
  const started = performance.now();
  const trigger = await triggering.trigger(graph, { inputs: { data, chunk_size: String(chunkSize) } });
  const runId = trigger.run_id;
  console.log(`run ${runId}`);
  for (const warning of trigger.warnings ?? []) console.log(`warning: ${warning}`);

  const row = await watchSeedRun({
    sm,
    listNodes: () => listNodes({ uri, key: values.key, namespace: "examples" }),
    runId,
    branches,
    stallMs,
  });
  const seconds = (performance.now() - started) / 1000;

  const merger = await findMerger({ sm, graph, runId, row, stateId: stateIdOf, runKey: runKeyOfRunId });
  const merged = merger?.outputs?.merged;
  const expected = rangeSum(items);
  if (merger === undefined) console.log(`merged: (no merger state found) (expected ${expected})`);
  else if (merger.status !== "SUCCESS")
    console.log(`merger ${merger.status}: ${oneLine(merger.error ?? "")}`);
  else console.log(`merged: ${merged} (expected ${expected})`);
  console.log(
    `run ${row.status} in ${seconds.toFixed(1)} s: success ${row.success_count}, pending ${row.pending_count}, ` +
      `errored ${row.errored_count}, retried ${row.retried_count}, total ${row.total_count}`,
  );
  if (row.status !== "SUCCESS") {
    throw new ScriptError(
      `run ${runId} ended ${row.status} with ${row.errored_count} errored state(s); every state and its ` +
        `error: GET ${uri}/v0/namespace/examples/states/run/${runId}/graph`,
    );
  }
  if (merged !== expected) throw new ScriptError(`the merged total is ${merged}, expected ${expected}`);
  return 0;
});

/**
 * The merger state's details. When the run kept every state in its run actor, the merger is the last state
 * it created, and state ids route themselves (run key + sequence number), so its id is known without
 * asking; a run whose branches went to branch shards numbers states per actor, and then one page of the
 * merger node's states names it. The run's states are never listed.
 */
async function findMerger({ sm, graph, runId, row, stateId, runKey }) {
  const details = (id) =>
    sm.stateDetails(graph, runId, id).catch((e) => {
      if (e instanceof RefusedError && e.status === 404) return undefined;
      throw e;
    });
  const last = await details(stateId(runKey(runId), row.total_count));
  if (last?.identifier === "merger") return last;
  const page = await sm.runGraph(runId, { identifier: "merger", limit: 1 });
  const merger = page.nodes?.[0];
  return merger ? await details(merger.id) : undefined;
}
