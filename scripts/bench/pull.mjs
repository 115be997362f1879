// The benchmark's pull rows: the seed graph (split → process → merge) registered as pull nodes in their
// own namespace and executed by pull runtimes that follow Exosphere's Python SDK request pattern, beside a
// pull floor that answers the same requests with one Durable Object call and one row each
// (bench/pull-floor.ts). See docs/benchmarks.md.
//
// The runtime below mirrors the SDK's loop (spec §5.2), not our PullRuntime: a poller that, while its
// local queue holds fewer than `batch_size` states, sends one `states/enqueue` with that batch size, puts
// the states into a queue bounded at 2 × batch_size, then sleeps `poll_interval` (twice that after an
// error); `workers` tasks each take a state, execute its node, and send one `executed` request per state.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { call, JobError, jobTimeoutMs, triggerAndWait, until } from "./jobs.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const PULL_NAMESPACE = "bench-pull";
export const PULL_PYTHON_NAMESPACE = "bench-pull-python";
export const PULL_DEFAULTS = { batchSize: 500, workers: 64, pollMs: 100, runtimes: 1 };

/** The seed's nodes and the SDK's execution helper, from the sources (so the benchmark cannot drift). */
export async function loadPullSources(loadTs) {
  const m = await loadTs([
    "examples/runtime/src/nodes.ts",
    "src/sdk/base-node.ts",
    "src/sdk/execute.ts",
    "src/sdk/registration.ts",
  ]);
  const nodes = m.exampleNodes();
  return {
    nodes,
    byName: new Map(nodes.map((n) => [m.nodeNameOf(n), n])),
    executeNode: m.executeNode,
    registrations: nodes.map((n) => m.toRegisteredNode(n)),
  };
}

/**
 * One SDK-style runtime against `base + prefix` (`/v0/namespace/{ns}` for the engine, the floor's job path
 * for the floor). Answers `stop()`, which ends the loops after the states in hand are reported, and
 * counters of what it sent.
 */
function sdkRuntime({ base, prefix, headers, sources, batchSize, workers, pollMs }) {
  const stats = { polls: 0, executed: 0, refused: 0, failed: 0 };
  const queue = [];
  const takers = [];
  const putters = [];
  let running = true;
  const names = [...sources.byName.keys()];

  const put = async (state) => {
    while (queue.length >= 2 * batchSize && running) await new Promise((r) => putters.push(r));
    queue.push(state);
    takers.shift()?.();
  };
  const take = async () => {
    while (queue.length === 0) {
      if (!running) return null;
      await new Promise((r) => takers.push(r));
    }
    putters.shift()?.();
    return queue.shift();
  };
  const post = (path, body) =>
    fetch(base + prefix + path, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  async function poller() {
    while (running) {
      let pause = pollMs;
      if (queue.length < batchSize) {
        try {
          const res = await post("/states/enqueue", { nodes: names, batch_size: batchSize });
          const body = await res.json();
          if (!res.ok) throw new Error(`enqueue answered ${res.status}: ${JSON.stringify(body)}`);
          stats.polls += 1;
          for (const state of body.states) await put(state);
        } catch (e) {
          if (running) console.error(`  pull runtime: polling failed: ${e instanceof Error ? e.message : e}`);
          pause = 2 * pollMs;
        }
      }
      await sleep(pause);
    }
  }

  async function worker() {
    for (;;) {
      const state = await take();
      if (state === null) return;
      const node = sources.byName.get(state.node_name);
      const outcome = node
        ? await sources.executeNode(node, state.inputs ?? {}, {}, { stateId: state.state_id })
        : { type: "errored", error: `no node ${state.node_name}` };
      const [path, body] =
        outcome.type === "executed"
          ? ["executed", { outputs: outcome.outputs }]
          : ["errored", { error: outcome.error ?? outcome.type }];
      try {
        const res = await post(`/state/${state.state_id}/${path}`, body);
        await res.arrayBuffer();
        if (res.ok) stats.executed += 1;
        else stats.refused += 1; // the SDK only logs a non-200 report
      } catch {
        stats.failed += 1;
      }
    }
  }

  const loops = [poller(), ...Array.from({ length: workers }, worker)];
  return {
    stats,
    async stop() {
      running = false;
      for (const wake of [...takers.splice(0), ...putters.splice(0)]) wake();
      await Promise.all(loops);
    },
  };
}

const PYTHON_RUNTIME = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "bench",
  "python",
  "seed_runtime.py",
);

/**
 * One runtime of Exosphere's own Python SDK (`bench/python/seed_runtime.py`, run by `options.python`)
 * against `base + prefix`, which the SDK extends with `/v0/namespace/{ns}/...` itself. It registers the
 * seed's nodes, then polls until `stop()` kills it. The SDK logs every report it makes (INFO) and every
 * failure (ERROR); the counters are read from that log.
 */
function pythonRuntime({ base, prefix, apiKey, namespace, python, batchSize, workers, pollMs }) {
  const stats = { polls: 0, executed: 0, refused: 0, failed: 0, registered: false };
  const args = [PYTHON_RUNTIME, base + prefix, apiKey, namespace, batchSize, workers, pollMs / 1000];
  const child = spawn(python, args.map(String), { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise((resolve) => child.on("close", resolve));
  let registered;
  const ready = new Promise((resolve, reject) => {
    registered = resolve;
    child.on("error", (e) => reject(new JobError(`could not run ${python}: ${e.message}`)));
    child.on("close", (code) =>
      reject(new JobError(`the Python SDK runtime exited (${code}) before registering`)),
    );
  });
  let tail = "";
  const errors = [];
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    const lines = (tail + chunk).split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes("| Notified executed state")) stats.executed += 1;
      else if (line.includes("| Enqueued states:")) stats.polls += 1;
      else if (line.includes("| Registered nodes")) registered();
      else if (line.includes("| ERROR |") || line.startsWith("Traceback")) {
        stats.failed += 1;
        if (errors.length < 3) errors.push(line);
      }
    }
  });
  return {
    stats,
    errors,
    ready,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function startRuntimes(options, target) {
  if (!options.python) {
    return Array.from({ length: options.runtimes }, () => sdkRuntime({ ...target, ...options }));
  }
  const runtimes = Array.from({ length: options.runtimes }, () => pythonRuntime({ ...target, ...options }));
  try {
    await Promise.all(runtimes.map((r) => r.ready));
  } catch (e) {
    await stopRuntimes(runtimes);
    throw e;
  }
  return runtimes;
}

async function stopRuntimes(runtimes) {
  await Promise.all(runtimes.map((r) => r.stop()));
  const total = { polls: 0, executed: 0, refused: 0, failed: 0 };
  for (const r of runtimes) for (const k of Object.keys(total)) total[k] += r.stats[k];
  const logged = runtimes.flatMap((r) => r.errors ?? []);
  if (logged.length > 0) console.error(`  python runtime: ${logged.join("\n  ")}`);
  return total;
}

/** Registers the seed's nodes as pull nodes in the pull namespace (what the SDK's `start` does first). */
export async function registerPullNodes({ base, apiKey, sources }) {
  await call(base, `/v0/namespace/${PULL_NAMESPACE}/nodes/`, {
    method: "PUT",
    headers: { "x-api-key": apiKey },
    body: {
      runtime_name: "bench-pull",
      runtime_namespace: PULL_NAMESPACE,
      transport: "pull",
      nodes: sources.registrations.map((r) => ({ ...r, namespace: PULL_NAMESPACE, transport: "pull" })),
    },
  });
}

/**
 * exoflare, pulled: the seed graph in the pull namespace, chunk size 1 (n branches), timed from the
 * trigger until the run shows no pending state, with the runtimes already polling; then the counts, the
 * merged total and the cost counters are checked and read.
 */
export async function exoflarePullJob({ base, apiKey, n, graph, sources, options }) {
  const headers = { "x-api-key": apiKey };
  const ns = options.python ? PULL_PYTHON_NAMESPACE : PULL_NAMESPACE;
  const graphName = `bench-pull-${n}-${Date.now().toString(36)}`;
  const body = { ...graph, nodes: graph.nodes.map((node) => ({ ...node, namespace: ns })) };
  const data = JSON.stringify(Array.from({ length: n }, (_, i) => i + 1));
  // The runtimes first: the Python SDK registers its nodes as it starts, before the graph can name them.
  const runtimes = await startRuntimes(options, {
    base,
    prefix: options.python ? "" : `/v0/namespace/${ns}`,
    headers,
    apiKey,
    namespace: ns,
    sources,
  });
  let row;
  let runId;
  let seconds;
  let sent;
  try {
    const upserted = await call(base, `/v0/namespace/${ns}/graph/${graphName}`, {
      method: "PUT",
      headers,
      body,
    });
    if (upserted.validation_status !== "VALID") {
      throw new JobError(`graph did not validate: ${JSON.stringify(upserted.validation_errors)}`);
    }
    ({ runId, row, seconds } = await triggerAndWait({
      base,
      headers,
      ns,
      graphName,
      body: { inputs: { data, chunk_size: "1" } },
      n,
      what: `exoflare-pull n=${n}`,
    }));
  } finally {
    sent = await stopRuntimes(runtimes);
  }
  const errors = [];
  const states = 2 * n + 1;
  if (row.status !== "SUCCESS") errors.push(`run status ${row.status}, expected SUCCESS`);
  if (row.total_count !== states) errors.push(`total_count ${row.total_count}, expected ${states}`);
  if (row.success_count !== states) errors.push(`success_count ${row.success_count}, expected ${states}`);
  if (sent.refused > 0 || sent.failed > 0) {
    errors.push(`${sent.refused} reports refused and ${sent.failed} failed (expected none)`);
  }
  const graphView = await call(base, `/v0/namespace/${ns}/states/run/${runId}/graph?identifier=merger`, {
    headers,
  });
  const mergers = graphView.nodes.filter((s) => s.identifier === "merger");
  let merged = `${mergers.length} merger states`;
  if (mergers.length === 1) {
    const merger = await call(
      base,
      `/v0/namespace/${ns}/graph/${graphName}/run/${runId}/node/${mergers[0].id}`,
      {
        headers,
      },
    );
    merged = merger.outputs?.merged;
  }
  const expected = String((BigInt(n) * BigInt(n + 1)) / 2n);
  if (merged !== expected) errors.push(`merged ${merged}, expected ${expected}`);
  const costs = await call(base, `/v0/namespace/${ns}/states/run/${runId}/costs`, { headers });
  return { seconds, runId, states, executed: states, merged, expected, costs, requests: sent, errors };
}

/** The pull floor: n ready items claimed and reported by the same runtimes through the floor's routes. */
export async function pullFloorJob({ base, n, sources, options }) {
  const job = `pull-floor-${n}-${Date.now().toString(36)}`;
  await call(base, `/pull-floor/${job}/setup?n=${n}`, { method: "POST" });
  const runtimes = await startRuntimes(options, {
    base,
    prefix: `/pull-floor/${job}`,
    headers: {},
    apiKey: "unused",
    namespace: job,
    sources,
  });
  const t0 = performance.now();
  let seconds;
  let sent;
  try {
    await until(
      async () => {
        const s = await call(base, `/pull-floor/${job}`);
        return s.done === n ? s : undefined;
      },
      t0,
      jobTimeoutMs(n),
      `pull-floor n=${n}`,
    );
    seconds = (performance.now() - t0) / 1000;
  } finally {
    sent = await stopRuntimes(runtimes);
  }
  const errors = [];
  // The Python SDK's log of its last reports can trail the floor's count: only failures are checked there.
  const executedOk = options.python ? true : sent.executed === n;
  if (!executedOk || sent.refused > 0 || sent.failed > 0) {
    errors.push(
      `${sent.executed} executed, ${sent.refused} refused, ${sent.failed} failed (expected ${n}, 0, 0)`,
    );
  }
  return { seconds, executed: n, requests: sent, errors };
}

/**
 * Runs the pull rows: for each size, the pull floor then exoflare, through bench.mjs's `measure` (so the
 * rows carry the same columns). `floorOf` makes the exoflare row's "× floor" the pull floor's.
 */
export async function runPullRows({ engine, floor, apiKey, sizes, graph, sources, options, measure }) {
  if (sizes.length === 0) return;
  const node = { ...options, python: undefined };
  const kinds = [[node, "pull-floor", "exoflare-pull", "Node runtimes of the SDK's pattern"]];
  if (options.python) {
    kinds.push([options, "python-floor", "exoflare-python", `Exosphere's Python SDK (${options.python})`]);
  }
  await registerPullNodes({ base: engine.base, apiKey, sources });
  for (const [opts, floorName, engineName, what] of kinds) {
    console.log(
      `bench: pull rows at ${sizes.join(", ")}, ${what}; runtimes: ${opts.runtimes} × ${opts.workers} ` +
        `workers, batch_size ${opts.batchSize}, poll interval ${opts.pollMs} ms`,
    );
    // Warm-up, not reported.
    await exoflarePullJob({ base: engine.base, apiKey, n: 10, graph, sources, options: opts });
    await pullFloorJob({ base: floor.base, n: 10, sources, options: opts });
    for (const n of sizes) {
      await measure(
        floorName,
        n,
        floor,
        () => pullFloorJob({ base: floor.base, n, sources, options: opts }),
        {
          floorOf: floorName,
        },
      );
      await measure(
        engineName,
        n,
        engine,
        () => exoflarePullJob({ base: engine.base, apiKey, n, graph, sources, options: opts }),
        { floorOf: floorName },
      );
    }
  }
}
