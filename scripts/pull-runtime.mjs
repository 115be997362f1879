#!/usr/bin/env node
// `npm run runtime:pull`: a TypeScript pull runtime serving the seed's example nodes (split / process /
// merge) from this machine, polling the engine over HTTP. `npm run runtime:pull -- --help` lists the
// options; by default it serves a local `npm start`.
//
// Node cannot import the TypeScript sources directly (they use extensionless imports), so the runtime
// and the example nodes are bundled with esbuild at start, then imported (scripts/lib/load-ts.mjs).
import { intOption, parseCli, runMain } from "./lib/cli.mjs";
import { checkUri, connectionOptions, engineFetch, listNodes } from "./lib/engine.mjs";
import { loadTs } from "./lib/load-ts.mjs";
import { jsonRange, watchSeedRun } from "./lib/seed-run.mjs";

const { values: args, usage } = parseCli({
  name: "runtime:pull",
  command: "npm run runtime:pull",
  summary:
    "Serves the seed's example nodes (DataSplitterNode, DataProcessorNode, ResultMergerNode) as pull nodes:\n" +
    "registers them, then polls the engine for their states and reports the results, until Ctrl-C.",
  options: {
    ...connectionOptions(),
    namespace: {
      type: "string",
      value: "NS",
      default: "examples-pull",
      description: "namespace of the nodes (not the engine's own `examples`, which its queue runtime serves)",
    },
    name: { type: "string", value: "NAME", default: "ts-pull-runtime", description: "the runtime's name" },
    "batch-size": { type: "string", value: "N", default: "16", description: "states asked for per poll" },
    workers: { type: "string", value: "N", default: "4", description: "states executed at once" },
    "poll-interval": {
      type: "string",
      value: "MS",
      default: "1000",
      description: "pause between polls, in milliseconds",
    },
    demo: {
      type: "boolean",
      description:
        "also upsert the split -> process -> merge graph in the namespace, run it once, print the outcome, stop",
    },
    "stall-timeout": {
      type: "string",
      value: "SECONDS",
      default: "300",
      description: "with --demo: give up when the run's counts have not moved for this long",
    },
  },
  epilog:
    "Exit codes: 0 stopped (or the --demo run succeeded), 1 it could not start or the --demo run failed, 2 bad options.",
});
const uri = checkUri(usage, args.uri);
const batchSize = intOption(usage, "batch-size", args["batch-size"], { min: 1, max: 1000 });
const workers = intOption(usage, "workers", args.workers, { min: 1 });
const pollIntervalMs = intOption(usage, "poll-interval", args["poll-interval"], { min: 0 });
const stallMs = intOption(usage, "stall-timeout", args["stall-timeout"], { min: 1 }) * 1000;
if (args.namespace.trim() === "") usage("--namespace must not be empty");

await runMain("runtime:pull", async () => {
  const { PullRuntime, StateManager, exampleNodes, splitProcessMergeGraph } = await loadTs([
    "src/client/index.ts",
    "examples/runtime/src/index.ts",
  ]);
  const connection = { uri, key: args.key, namespace: args.namespace };
  // Engine down, wrong key, no answer: one line, in the start-up error and in the polling log alike.
  const runtime = new PullRuntime({
    ...connection,
    fetch: engineFetch({ uri }),
    name: args.name,
    nodes: exampleNodes(),
    batchSize,
    workers,
    pollIntervalMs,
  });

  let stopping = null;
  const shutdown = (code) => {
    stopping ??= (async () => {
      console.log("exoflare pull runtime: stopping (finishing in-flight states)…");
      await runtime.stop();
      return code;
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => void shutdown(0).then((code) => process.exit(code)));
  }

  await runtime.start();
  console.log(
    `exoflare pull runtime "${args.name}": serving ${exampleNodes()
      .map((n) => n.constructor.nodeName)
      .join(", ")} in namespace "${args.namespace}" at ${uri} (Ctrl-C to stop)`,
  );
  if (!args.demo) return new Promise(() => {}); // serves until a signal stops the process

  try {
    const client = new StateManager({ ...connection, fetch: engineFetch({ uri, refuseErrors: true }) });
    const graph = "split-process-merge-pull";
    await client.upsertGraph(
      graph,
      splitProcessMergeGraph.nodes.map((n) => ({ ...n, namespace: args.namespace })),
    );
    const { run_id: runId } = await client.trigger(graph, {
      inputs: { data: jsonRange(100), chunk_size: "10" },
    });
    console.log(`demo: triggered run ${runId} of ${graph} (sum of 1..100 in chunks of 10)`);
    const run = await watchSeedRun({
      sm: client,
      listNodes: () => listNodes(connection),
      runId,
      branches: 10,
      stallMs,
    });
    console.log(`demo: run ${run.status}: ${run.success_count} of ${run.total_count} states succeeded`);
    return shutdown(run.status === "SUCCESS" ? 0 : 1);
  } catch (e) {
    await shutdown(1);
    throw e;
  }
});
