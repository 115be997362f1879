#!/usr/bin/env node
// `npm run runtime:pull -- --uri http://127.0.0.1:8787 --key KEY`: a TypeScript pull runtime serving the
// seed's example nodes (split / process / merge) from this machine, polling the engine over HTTP.
//
// Node cannot import the TypeScript sources directly (they use extensionless imports), so the runtime
// and the example nodes are bundled with esbuild (a dependency of wrangler) into a temporary directory
// at start, then imported.
//
// Options (environment fallbacks in brackets):
//   --uri URL          the engine's base URL [EXOSPHERE_STATE_MANAGER_URI]
//   --key KEY          the API key [EXOSPHERE_API_KEY]
//   --namespace NS     namespace of the nodes (default "examples")
//   --name NAME        runtime name (default "ts-pull-runtime")
//   --batch-size N     states per poll (default 16)
//   --workers N        states executed at once (default 4)
//   --poll-interval MS pause between polls (default 1000)
//   --demo             also upsert the split → process → merge graph in the namespace, trigger one run,
//                      print its result when it finishes, and stop
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const { values: args } = parseArgs({
  options: {
    uri: { type: "string" },
    key: { type: "string" },
    namespace: { type: "string", default: "examples" },
    name: { type: "string", default: "ts-pull-runtime" },
    "batch-size": { type: "string", default: "16" },
    workers: { type: "string", default: "4" },
    "poll-interval": { type: "string", default: "1000" },
    demo: { type: "boolean", default: false },
  },
});

const dir = await mkdtemp(join(tmpdir(), "exoflare-pull-"));
const outfile = join(dir, "runtime.mjs");
await build({
  stdin: {
    contents: [
      'export { PullRuntime, StateManager } from "./src/client/index.ts";',
      'export { exampleNodes, splitProcessMergeGraph } from "./src/examples/index.ts";',
    ].join("\n"),
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  outfile,
  logLevel: "warning",
});
const { PullRuntime, StateManager, exampleNodes, splitProcessMergeGraph } = await import(
  pathToFileURL(outfile).href
);
await rm(dir, { recursive: true, force: true });

const connection = { uri: args.uri, key: args.key, namespace: args.namespace };
const runtime = new PullRuntime({
  ...connection,
  name: args.name,
  nodes: exampleNodes(),
  batchSize: Number(args["batch-size"]),
  workers: Number(args.workers),
  pollIntervalMs: Number(args["poll-interval"]),
});

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  console.log("exoflare pull runtime: stopping (finishing in-flight states)…");
  await runtime.stop();
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void shutdown(0));

await runtime.start();
console.log(
  `exoflare pull runtime "${args.name}": serving ${exampleNodes()
    .map((n) => n.constructor.nodeName)
    .join(", ")} in namespace "${args.namespace}" (Ctrl-C to stop)`,
);

if (args.demo) {
  const client = new StateManager(connection);
  const graph = "split-process-merge-pull";
  await client.upsertGraph(
    graph,
    splitProcessMergeGraph.nodes.map((n) => ({ ...n, namespace: args.namespace })),
  );
  const { run_id: runId } = await client.trigger(graph, {
    inputs: { data: JSON.stringify(Array.from({ length: 100 }, (_, i) => i + 1)), chunk_size: "10" },
  });
  console.log(`demo: triggered run ${runId} of ${graph} (sum of 1..100 in chunks of 10)`);
  for (;;) {
    const run = (await client.runs(1, 50)).runs.find((r) => r.run_id === runId);
    if (run && run.pending_count === 0) {
      console.log(`demo: run ${run.status}: ${run.success_count} of ${run.total_count} states succeeded`);
      await shutdown(run.status === "SUCCESS" ? 0 : 1);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
