#!/usr/bin/env node
// `npm run bench`: exoflare's split → process → merge fan-out beside Cloudflare Workflows and a
// queue → actor floor, on local workerd, in one run on one machine (see docs/benchmarks.md).
//
//   npm run bench                          # n = 1,000, 10,000, 100,000 (+ 3,000 for the Workflows ratio)
//   npm run bench -- --quick               # n = 1,000 only; fails only on wrong results (CI smoke test)
//   npm run bench -- --sizes 1000,5000 --out results.json
//   npm run bench -- --sizes "" --workflow-sizes "" --pull-sizes 1000,10000   # the pull rows alone
//   npm run bench -- --sizes "" --workflow-sizes "" --pull-python python3      # + Exosphere's Python SDK
//
// Everything runs on 127.0.0.1 with fresh temporary state; every process started here is stopped and
// the temporary directory removed on exit, error or interrupt.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { exoflareJob, floorJob, JobError, workflowJob } from "./bench/jobs.mjs";
import { exoflareLatency, workflowLatency } from "./bench/latency.mjs";
import {
  cpuTimes,
  freePort,
  killAllStartedSync,
  sampleMemory,
  startWrangler,
  stealPercent,
  stopAllStarted,
  waitForOk,
  workerdCpuSeconds,
} from "./bench/processes.mjs";
import { loadPullSources, PULL_DEFAULTS, runPullRows } from "./bench/pull.mjs";
import { table, withRatios } from "./bench/report.mjs";
import { intOption, oneLine, parseCli } from "./lib/cli.mjs";
import { registerExampleRuntime } from "./lib/example-runtime.mjs";
import { loadTs } from "./lib/load-ts.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");

/** Workflows caps steps per instance (10,000 by default, 25,000 at most); the job needs n + 2. */
const WORKFLOW_STEP_LIMIT = 10_000;
const DEFAULT_SIZES = [1_000, 10_000, 100_000];
/** Branches (floor rows) of the unreported warm-up run of exoflare and the floor; Workflows' is capped. */
const DEFAULT_WARMUP = 10_000;
const WORKFLOW_WARMUP_MAX = 1_000;
/**
 * Rows up to this n are run `--repeat` times and show the median run: one run of them is mostly noise (on
 * a 2-core machine, 100,000 branches took from 4.7 to 6.8 s on the same engine within minutes). A
 * million runs once: it takes a minute, which averages the machine's noise out on its own.
 */
const REPEAT_MAX_N = 100_000;
const DEFAULT_WORKFLOW_SIZES = [1_000, 3_000];

const { values: opts, usage } = parseCli({
  name: "bench",
  command: "npm run bench",
  summary:
    "Runs exoflare's split -> process -> merge fan-out beside Cloudflare Workflows and a queue -> actor floor,\n" +
    "on local workerd with fresh temporary state, and prints the table (docs/benchmarks.md).",
  options: {
    sizes: {
      type: "string",
      value: "N,N,…",
      default: DEFAULT_SIZES.join(","),
      description: "branches per exoflare run (and floor rows)",
    },
    "workflow-sizes": {
      type: "string",
      value: "N,N,…",
      default: DEFAULT_WORKFLOW_SIZES.join(","),
      description: "steps per Workflows run (empty: none)",
    },
    quick: { type: "boolean", description: "n = 1,000 only; fails only on wrong results (CI smoke run)" },
    out: {
      type: "string",
      value: "FILE",
      description: "where to write the results as JSON (default: .bench/results-<time>.json)",
    },
    "keep-logs": { type: "boolean", description: "keep the temporary directory with the Workers' logs" },
    "engine-dir": {
      type: "string",
      value: "DIR",
      description: "measure another checkout's engine beside the same floor and Workflows runs",
    },
    "latency-runs": {
      type: "string",
      value: "N",
      default: "20",
      description: "runs of the 10-branch latency row, for exoflare and for Workflows (0: none)",
    },
    "pull-sizes": {
      type: "string",
      value: "N,N,…",
      default: "1000,10000",
      description: "branches per pull run (seed graph as pull nodes) and pull-floor rows (empty: none)",
    },
    "pull-batch-size": {
      type: "string",
      value: "N",
      description: `batch_size per poll (default ${PULL_DEFAULTS.batchSize})`,
    },
    "pull-workers": {
      type: "string",
      value: "N",
      description: `workers per pull runtime (default ${PULL_DEFAULTS.workers})`,
    },
    "pull-poll-ms": {
      type: "string",
      value: "MS",
      description: `poll interval (default ${PULL_DEFAULTS.pollMs})`,
    },
    "pull-runtimes": {
      type: "string",
      value: "N",
      description: `pull runtimes (default ${PULL_DEFAULTS.runtimes})`,
    },
    "pull-python": {
      type: "string",
      value: "PYTHON",
      description:
        "also run the pull rows with Exosphere's own Python SDK: a Python that can `import exospherehost`",
    },
    warmup: {
      type: "string",
      value: "N",
      default: String(DEFAULT_WARMUP),
      description: `n of the unreported warm-up run each job makes first (Workflows at most ${WORKFLOW_WARMUP_MAX}; 0: 10)`,
    },
    repeat: {
      type: "string",
      value: "K",
      default: "3",
      description: `runs of each row with n up to ${REPEAT_MAX_N.toLocaleString("en-US")}; the row shows the median run (larger rows run once)`,
    },
    "states-per-message": {
      type: "string",
      value: "N",
      description: "overrides the engine's DISPATCH_STATES_PER_MESSAGE (ready states per queue message)",
    },
    "engine-var": {
      type: "string",
      multiple: true,
      value: "NAME:VALUE",
      description:
        "sets one of the engine's variables for this run (repeatable), e.g. --engine-var SHARD_FROM_OUTPUT:1",
    },
  },
  epilog: "Exit codes: 0 every job gave the right result, 1 a job failed or could not run, 2 bad options.",
});
const parseSizes = (name, s) =>
  s
    .split(",")
    .filter((x) => x.trim() !== "")
    .map((x) => intOption(usage, name, x.trim(), { min: 1 }));
const sizes = opts.quick ? [1_000] : parseSizes("sizes", opts.sizes);
const workflowSizes = opts.quick ? [1_000] : parseSizes("workflow-sizes", opts["workflow-sizes"]);
const pullSizes = opts.quick ? [1_000] : parseSizes("pull-sizes", opts["pull-sizes"]);
const pullOption = (name, fallback, min) =>
  opts[name] === undefined ? fallback : intOption(usage, name, opts[name], { min });
const pullOptions = {
  batchSize: pullOption("pull-batch-size", PULL_DEFAULTS.batchSize, 1),
  workers: pullOption("pull-workers", PULL_DEFAULTS.workers, 1),
  pollMs: pullOption("pull-poll-ms", PULL_DEFAULTS.pollMs, 0),
  runtimes: pullOption("pull-runtimes", PULL_DEFAULTS.runtimes, 1),
  python: opts["pull-python"] || undefined,
};
if (sizes.length === 0 && pullSizes.length === 0) usage("--sizes or --pull-sizes needs at least one size");
const warmup = opts.quick ? 10 : Math.max(10, intOption(usage, "warmup", opts.warmup, { min: 0 }));
const latencyRuns = opts.quick ? 3 : intOption(usage, "latency-runs", opts["latency-runs"], { min: 0 });
const repeat = opts.quick ? 1 : intOption(usage, "repeat", opts.repeat, { min: 1 });
if (opts["states-per-message"] !== undefined) {
  intOption(usage, "states-per-message", opts["states-per-message"], { min: 1 });
}
const engineVars = opts["engine-var"] ?? [];
for (const v of engineVars) {
  if (!/^[A-Z][A-Z0-9_]*:./.test(v)) usage(`--engine-var ${v} is not NAME:VALUE (e.g. SHARD_FROM_OUTPUT:1)`);
}
if (opts["engine-dir"] !== undefined && !existsSync(join(resolve(opts["engine-dir"]), "wrangler.toml"))) {
  usage(`--engine-dir ${opts["engine-dir"]} has no wrangler.toml`);
}
// exoflare and the floor also run at the Workflows sizes, so that every Workflows row has its ratio.
const allSizes = [...new Set([...sizes, ...workflowSizes])].sort((a, b) => a - b);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const outPath = resolve(opts.out ?? join(root, ".bench", `results-${stamp}.json`));

const tmp = mkdtempSync(join(tmpdir(), "exoflare-bench-"));
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await stopAllStarted();
  if (!opts["keep-logs"]) rmSync(tmp, { recursive: true, force: true });
  else if (opts["keep-logs"] === true) console.error(`logs kept in ${tmp}`);
}
process.on("exit", () => {
  killAllStartedSync();
  if (!cleaned && !opts["keep-logs"]) rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping`);
    // The process exits in `finally` whatever cleanup does.
    void cleanup().finally(() => process.exit(130));
  });
}

function run(cmd, args, { logName, timeoutMs = 180_000 }) {
  const logPath = join(tmp, logName);
  const log = createWriteStream(logPath);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else
        reject(
          new Error(
            `${cmd} ${args.join(" ")} failed (${code}):\n${readFileSync(logPath, "utf8").slice(-3000)}`,
          ),
        );
    });
  });
}

/**
 * Bundles a Worker into `outDir` and writes a config there whose `main` is the bundle: `wrangler dev`
 * then watches only the copy, so edits to the working tree during a run cannot reload it mid-job.
 */
async function buildWorker(configPath, outDir, dir = root) {
  const t = Date.now();
  await run(wrangler, ["deploy", "--dry-run", "-c", join(dir, configPath), "--outdir", outDir], {
    logName: `build-${outDir.split("/").pop()}.log`,
  });
  const bundle = readdirSync(outDir).find((f) => f.endsWith(".js"));
  if (!bundle) throw new Error(`no bundle in ${outDir}`);
  const config = readFileSync(join(dir, configPath), "utf8")
    .replace(/^main\s*=.*$/m, `main = "${bundle}"`)
    // Static assets stay where they are (the copy holds only the bundle and its config).
    .replace(/^directory\s*=\s*"(.*)"\s*$/m, (_, d) => `directory = ${JSON.stringify(resolve(dir, d))}`);
  writeFileSync(join(outDir, "wrangler.toml"), config);
  console.log(`bench: built ${configPath} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return join(outDir, "wrangler.toml");
}

/** The seed graph and the id helpers, straight from the sources (so the benchmark cannot drift). */
function loadSources() {
  return loadTs(["examples/runtime/src/graphs.ts", "src/engine/ids.ts"]);
}

/** Starts `wrangler dev` for a built Worker and waits until it answers /health. */
async function startWorker(name, config, extraArgs = []) {
  const t = Date.now();
  const port = await freePort();
  const child = startWrangler({
    wrangler,
    cwd: dirname(config),
    args: ["-c", config, "--no-bundle", ...extraArgs],
    port,
    persistTo: join(tmp, `state-${name}`),
    log: openSync(join(tmp, `${name}.log`), "w"),
  });
  const worker = { name, child, base: `http://127.0.0.1:${port}` };
  await waitForOk(`${worker.base}/health`, child);
  console.log(`bench: ${name} up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return worker;
}

async function main() {
  const started = Date.now();
  console.log(
    `bench: sizes ${allSizes.join(", ")}; Workflows at ${workflowSizes.join(", ")}; ` +
      `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB`,
  );
  const apiKey = randomBytes(18).toString("base64url");
  // Workers start one at a time (wrangler picks some internal ports itself, and concurrent starts can
  // collide); the engine starts while the comparison Worker is still being built.
  const engineDir = resolve(opts["engine-dir"] ?? root);
  // The example runtime Worker runs beside the engine in the same workerd (an engine from before runtimes
  // were Workers of their own has none: it bundles them).
  const runtimeConfig = "examples/runtime/wrangler.toml";
  const hasRuntime = existsSync(join(engineDir, runtimeConfig));
  const [engine, benchConfig, sources] = await Promise.all([
    Promise.all([
      buildWorker("wrangler.toml", join(tmp, "engine"), engineDir),
      hasRuntime ? buildWorker(runtimeConfig, join(tmp, "runtime"), engineDir) : null,
    ]).then(async ([config, runtime]) => {
      const args = runtime ? ["-c", runtime] : [];
      args.push("--var", `STATE_MANAGER_SECRET:${apiKey}`);
      if (opts["states-per-message"] !== undefined) {
        args.push("--var", `DISPATCH_STATES_PER_MESSAGE:${opts["states-per-message"]}`);
      }
      for (const v of engineVars) args.push("--var", v);
      const started = await startWorker("engine", config, args);
      if (runtime) await registerExampleRuntime({ uri: started.base, key: apiKey });
      return started;
    }),
    buildWorker("bench/wrangler.workflows.toml", join(tmp, "bench")),
    loadSources(),
  ]);
  const floor = await startWorker("floor", benchConfig);
  // The Workflows job gets its own workerd (so that its memory is its own), except in --quick mode,
  // where start-up time matters more.
  let workflows = null;
  const wantWorkflows = workflowSizes.length > 0 || latencyRuns > 0;
  if (wantWorkflows && opts.quick) workflows = floor;
  else if (wantWorkflows) {
    workflows = await startWorker("workflows", benchConfig);
  }
  console.log(`bench: workers up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const graph = sources.splitProcessMergeGraph;
  const ids = { stateIdOf: sources.stateIdOf, runKeyOfRunId: sources.runKeyOfRunId };
  // Warm-up, one job at a time, not in the table: first requests pay for isolate start-up and node
  // registration, and V8 optimizes the hot code only after it ran a while (a fresh engine's first 10,000
  // branches take up to twice as long as its third). The rows measure the steady state.
  const warmups = {};
  const warm = async (name, n, job) => {
    const t = performance.now();
    const r = await job(n);
    if (r.errors.length > 0) throw new Error(`${name} warm-up: ${r.errors.join("; ")}`);
    warmups[name] = { n, seconds: (performance.now() - t) / 1000 };
  };
  await warm("exoflare", warmup, (n) => exoflareJob({ base: engine.base, apiKey, n, graph, ids }));
  await warm("floor", warmup, (n) => floorJob({ base: floor.base, n }));
  if (workflows) {
    const n = Math.min(warmup, WORKFLOW_WARMUP_MAX);
    await warm("workflows", n, (k) => workflowJob({ base: workflows.base, n: k }));
  }
  console.log(
    `bench: warm-up ${Object.entries(warmups)
      .map(([name, w]) => `${name} n=${w.n} ${w.seconds.toFixed(2)} s`)
      .join(", ")}`,
  );

  const results = [];
  const measure = async (job, n, worker, fn, extra = {}) => {
    const memory = sampleMemory(worker.child.pid);
    const runs = [];
    for (let i = 0; i < (n <= REPEAT_MAX_N ? repeat : 1); i++) {
      // Every run starts with the disk idle: what the previous one left for the kernel to write back (a
      // million rows of it) is written now, untimed, instead of slowing the commits of the run measured.
      spawnSync("sync");
      let run;
      const cpu = cpuTimes();
      const workerdCpu = workerdCpuSeconds(worker.child.pid);
      try {
        run = await fn();
      } catch (e) {
        run = { errors: [e instanceof Error ? e.message : String(e)] };
      }
      run.stealPercent = stealPercent(cpu, cpuTimes());
      run.cpuSeconds = workerdCpuSeconds(worker.child.pid) - workerdCpu;
      runs.push(run);
      if (run.errors.length > 0) break;
    }
    const mem = memory.stop();
    // The row is the median run (of an even number, the slower middle one); any wrong run makes it wrong.
    const r =
      runs.find((run) => run.errors.length > 0) ??
      [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
    const samples = runs.length > 1 && r.errors.length === 0 ? runs.map((run) => run.seconds) : null;
    const ok = r.errors.length === 0;
    const result = {
      job,
      n,
      ok,
      seconds: r.seconds ?? null,
      ...(samples ? { samples } : {}),
      statesPerSecond: ok ? n / r.seconds : null,
      // CPU time of the job's workerd processes in the median run, per state: what a state cost, however
      // fast the machine gave it.
      cpuSeconds: r.cpuSeconds,
      cpuMicrosPerState: ok ? (r.cpuSeconds * 1e6) / n : null,
      memory: mem,
      stealPercent: r.stealPercent,
      errors: r.errors,
      ...(r.costs
        ? {
            costs: r.costs,
            costsPerState: Object.fromEntries(
              ["queueMessages", "sendBatchCalls", "reportRpcs", "rowsWritten"].map((k) => [
                k,
                r.costs[k] / n,
              ]),
            ),
          }
        : {}),
      ...(r.runId ? { runId: r.runId, states: r.states, merged: r.merged, phases: r.phases } : {}),
      ...(r.insideSeconds !== undefined ? { insideSeconds: r.insideSeconds } : {}),
      ...(r.requests ? { requests: r.requests } : {}),
      // A pull row: the states its runtimes executed (an engine run's 2n + 1, the floor's n rows), per second.
      ...(r.executed ? { executed: r.executed, executedPerSecond: ok ? r.executed / r.seconds : null } : {}),
      ...extra,
    };
    results.push(result);
    console.log(
      `  ${job} n=${n}: ${ok ? `${r.seconds.toFixed(2)} s` : `WRONG (${r.errors.join("; ")})`}` +
        (samples ? ` (median of ${samples.map((x) => x.toFixed(2)).join(", ")})` : "") +
        ", " +
        `peak RSS ${mem.peakRssMb} MB` +
        (ok ? `, workerd CPU ${((r.cpuSeconds * 1e6) / n).toFixed(1)} µs/state` : "") +
        (r.stealPercent != null ? `, CPU steal ${r.stealPercent.toFixed(1)} %` : "") +
        (ok && r.executed ? `, ${Math.round(r.executed / r.seconds)} executed states/s` : "") +
        (r.phases
          ? ` (split ${r.phases.splitSeconds} s, branches ${r.phases.branchesSeconds} s, merge ${r.phases.mergeSeconds} s)`
          : ""),
    );
  };

  for (const n of allSizes) {
    await measure("floor", n, floor, () => floorJob({ base: floor.base, n }));
    await measure("exoflare", n, engine, () => exoflareJob({ base: engine.base, apiKey, n, graph, ids }));
    if (workflows && workflowSizes.includes(n)) {
      await measure("workflows", n, workflows, () => workflowJob({ base: workflows.base, n }));
    }
  }
  await runPullRows({
    engine,
    floor,
    apiKey,
    sizes: pullSizes,
    graph,
    sources: await loadPullSources(loadTs),
    options: pullOptions,
    measure,
  });
  for (const n of allSizes) {
    if (workflowSizes.includes(n)) continue;
    results.push({
      job: "workflows",
      n,
      ok: false,
      skipped:
        n + 2 > WORKFLOW_STEP_LIMIT
          ? `n + 2 steps exceed the ${WORKFLOW_STEP_LIMIT.toLocaleString("en-US")} steps per instance`
          : "not in --workflow-sizes",
      errors: [],
    });
  }

  // The latency row: 10 branches, trigger → SUCCESS, one run at a time.
  let latency = null;
  if (latencyRuns > 0) {
    const polled = await exoflareLatency({ base: engine.base, apiKey, graph, runs: latencyRuns });
    const ex = await exoflareLatency({ base: engine.base, apiKey, graph, runs: latencyRuns, wait: true });
    const wf = workflows ? await workflowLatency({ base: workflows.base, runs: latencyRuns }) : null;
    latency = { n: 10, runs: latencyRuns, exoflare: ex, exoflarePolled: polled, workflows: wf };
    const ms = (v) => `${v.toFixed(1)} ms`;
    const errors = [...ex.errors, ...polled.errors];
    console.log(
      `  latency n=10 over ${latencyRuns} runs: exoflare median ${ms(ex.medianMs)}, p95 ${ms(ex.p95Ms)} ` +
        `(polled: ${ms(polled.medianMs)}, p95 ${ms(polled.p95Ms)})` +
        (wf ? `; Workflows median ${ms(wf.medianMs)}, p95 ${ms(wf.p95Ms)}` : "") +
        (errors.length > 0 ? ` (WRONG: ${errors.join("; ")})` : ""),
    );
  }

  const final = withRatios(results);
  console.log(`\n${table(final)}\n`);
  if (latency) {
    const ms = (v) => (v === undefined ? "—" : v.toFixed(1));
    const ratio = latency.workflows
      ? (latency.exoflare.medianMs / latency.workflows.medianMs).toFixed(2)
      : "—";
    const polledRatio = latency.workflows
      ? (latency.exoflarePolled.medianMs / latency.workflows.medianMs).toFixed(2)
      : "—";
    console.log(
      `| latency, 10 branches | median ms | p95 ms |\n|---|---|---|\n` +
        `| exoflare (the trigger waits for the end) | ${ms(latency.exoflare.medianMs)} | ${ms(latency.exoflare.p95Ms)} |\n` +
        `| exoflare (the run's view polled) | ${ms(latency.exoflarePolled.medianMs)} | ${ms(latency.exoflarePolled.p95Ms)} |\n` +
        `| Workflows (the instance's status polled) | ${ms(latency.workflows?.medianMs)} | ${ms(latency.workflows?.p95Ms)} |\n` +
        `exoflare's median is ${ratio} × Workflows' (polled: ${polledRatio} ×)\n`,
    );
  }
  const failed = final.filter((r) => !r.ok && !r.skipped);
  const record = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? "",
      memoryGb: Math.round(totalmem() / 2 ** 30),
    },
    node: process.version,
    notes:
      "states/s = n / seconds; n = branches (exoflare: one processor state each, 2n+1 states in all), " +
      "Workflows process steps, floor rows. Costs per state are divided by n.",
    warmups,
    results: final,
    latency,
    ok:
      failed.length === 0 &&
      (latency === null || latency.exoflare.errors.length + latency.exoflarePolled.errors.length === 0),
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bench: results in ${outPath} (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
  return record.ok;
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  if (!(e instanceof Error) || (e.constructor !== Error && !(e instanceof JobError))) {
    // A bug in the benchmark itself: the trace points at these scripts.
    console.error("bench: unexpected error (a bug in the benchmark; please report it with this trace):");
    console.error(e instanceof Error ? e.stack : e);
  } else {
    // One line; a failed build or start carries its log, which stays on disk to be read.
    const [first, ...more] = e.message.split("\n");
    if (more.length > 0 && !opts["keep-logs"]) opts["keep-logs"] = "on failure";
    console.error(`bench: ${oneLine(first)}${more.length > 0 ? `; logs kept in ${tmp}` : ""}`);
  }
} finally {
  await cleanup();
}
process.exit(ok ? 0 : 1);
