#!/usr/bin/env node
// `npm run fault`: the fault suite. Starts its own engine (`wrangler dev` on a free 127.0.0.1 port, fresh
// temporary state), runs the seed's split → process → merge fan-out in namespace `examples`, kills the
// engine with SIGKILL mid-run a few times and restarts it on the same state, then checks that the run
// ends SUCCESS with exact counts (no state lost, none duplicated) and the right merged total.
//
//   npm run fault                            # 2,000 branches, 3 kills
//   npm run fault -- --branches 2000 --kills 3  # what CI runs
//
// It stops only what it started (the process groups of the wranglers it spawned) and removes its
// temporary directory on exit, error or interrupt.
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  killAllStartedSync,
  startWrangler,
  stop,
  stopAllStarted,
  waitForOk,
} from "./bench/processes.mjs";
import { intOption, oneLine, parseCli, ScriptError } from "./lib/cli.mjs";
import { registerExampleRuntime } from "./lib/example-runtime.mjs";
import { loadTs } from "./lib/load-ts.mjs";
import { jsonRange, rangeSum, seedProgress } from "./lib/seed-run.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const NS = "examples";

const { values: opts, usage } = parseCli({
  name: "fault",
  command: "npm run fault",
  summary:
    "Kills the local engine with SIGKILL in the middle of a fan-out run, restarts it on the same state, and\n" +
    "checks that the run still ends SUCCESS with exact counts and the right merged total. Everything runs\n" +
    "on 127.0.0.1 with fresh temporary state.",
  options: {
    branches: { type: "string", value: "N", default: "2000", description: "branches of the fan-out" },
    kills: { type: "string", value: "N", default: "3", description: "SIGKILLs of the engine during the run" },
    "recover-within": {
      type: "string",
      value: "SECONDS",
      default: "60",
      description: "fail when the run ends later than this after the last restart",
    },
    "stall-timeout": {
      type: "string",
      value: "SECONDS",
      default: "120",
      description: "fail when the run makes no progress for this long",
    },
    "keep-logs": { type: "boolean", description: "keep the temporary directory with the engine's logs" },
  },
  epilog:
    "Exit codes: 0 the run ended exactly right, 1 it did not (or the engine could not run), 2 bad options.",
});
const branches = intOption(usage, "branches", opts.branches, { min: 1, max: 1_000_000 });
const kills = intOption(usage, "kills", opts.kills, { min: 0, max: 20 });
const recoverMs = intOption(usage, "recover-within", opts["recover-within"], { min: 1 }) * 1000;
const stallMs = intOption(usage, "stall-timeout", opts["stall-timeout"], { min: 1 }) * 1000;

const tmp = mkdtempSync(join(tmpdir(), "exoflare-fault-"));
const persistTo = join(tmp, "state");
const apiKey = randomBytes(18).toString("base64url");
const secretsKey = randomBytes(32).toString("base64url");
let keepLogs = opts["keep-logs"] === true;

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await stopAllStarted();
  if (keepLogs) console.error(`fault: logs kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", () => {
  killAllStartedSync();
  if (!cleaned && !keepLogs) rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`\nfault: ${signal}, stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const elapsed = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/**
 * Bundles a Worker (the engine, or the example runtime beside it) once, so that every restart runs the
 * same code and none rebuilds.
 */
async function bundleWorker(name, configPath) {
  const outDir = join(tmp, name);
  const log = openSync(join(tmp, `build-${name}.log`), "w");
  const { spawn } = await import("node:child_process");
  const code = await new Promise((resolve, reject) => {
    const child = spawn(wrangler, ["deploy", "--dry-run", "-c", join(root, configPath), "--outdir", outDir], {
      cwd: root,
      stdio: ["ignore", log, log],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
    });
    child.on("error", reject);
    child.on("exit", resolve);
  });
  if (code !== 0) {
    keepLogs = true;
    throw new ScriptError(
      `bundling the ${name} failed (exit ${code}); see ${join(tmp, `build-${name}.log`)}`,
    );
  }
  const bundle = readdirSync(outDir).find((f) => f.endsWith(".js"));
  if (!bundle) throw new ScriptError(`bundling the ${name} left no bundle in ${outDir}`);
  const config = readFileSync(join(root, configPath), "utf8")
    .replace(/^main\s*=.*$/m, `main = "${bundle}"`)
    // Static assets stay where they are (the copy holds only the bundle and its config).
    .replace(/^directory\s*=\s*"(.*)"\s*$/m, (_, d) => `directory = ${JSON.stringify(resolve(root, d))}`);
  writeFileSync(join(outDir, "wrangler.toml"), config);
  return join(outDir, "wrangler.toml");
}

let starts = 0;
/** Starts the engine on the persisted state and waits until it answers. */
async function startEngine({ config, runtime }) {
  const port = await freePort();
  starts += 1;
  const child = startWrangler({
    wrangler,
    cwd: dirname(config),
    args: [
      "-c",
      config,
      // The example runtime Worker, in the same workerd: killed and restarted with the engine.
      "-c",
      runtime,
      "--no-bundle",
      "--var",
      `STATE_MANAGER_SECRET:${apiKey}`,
      "--var",
      `SECRETS_ENCRYPTION_KEY:${secretsKey}`,
      // One ready state per queue message: many more messages in flight at each kill, and a run slow
      // enough on local workerd (whose queue hands over one batch at a time) to be killed mid-branches.
      "--var",
      "DISPATCH_STATES_PER_MESSAGE:1",
    ],
    port,
    persistTo,
    log: openSync(join(tmp, `engine-${starts}.log`), "w"),
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForOk(`${base}/health`, child);
    // Idempotent: the registration is in the engine's persisted state after the first start.
    await registerExampleRuntime({ uri: base, key: apiKey });
  } catch (e) {
    keepLogs = true;
    throw new ScriptError(`the engine did not start: ${e instanceof Error ? e.message : e}`);
  }
  return { child, base };
}

/** SIGKILL to the engine's whole process group (wrangler and its workerd): no chance to flush anything. */
async function killEngine(engine) {
  if (engine.child.exitCode !== null || engine.child.signalCode !== null) {
    keepLogs = true;
    throw new ScriptError("the engine exited by itself before it was killed; see its log");
  }
  const exited = new Promise((resolve) => engine.child.once("exit", resolve));
  try {
    process.kill(-engine.child.pid, "SIGKILL");
  } catch {
    // already gone
  }
  await exited;
  await stop(engine.child, 1000); // anything of the group left over
}

async function call(base, method, path, { body, headers = {}, refuse = true } = {}) {
  let res;
  try {
    res = await fetch(base + path, {
      method,
      headers: { "x-api-key": apiKey, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    throw new ScriptError(`${method} ${path} got no answer: ${e instanceof Error ? e.message : e}`);
  }
  const text = await res.text();
  if (refuse && !res.ok)
    throw new ScriptError(`${method} ${path} answered ${res.status}: ${oneLine(text, 300)}`);
  return { status: res.status, json: JSON.parse(text) };
}

/** The run's row in the runs list (a fresh namespace state: the fault run is the only run). */
async function runRow(base, runId) {
  const { json } = await call(base, "GET", `/v0/namespace/${NS}/runs/1/10`);
  return json.runs.find((r) => r.run_id === runId);
}

async function main() {
  const t0 = Date.now();
  const [config, runtime, sources] = await Promise.all([
    bundleWorker("engine", "wrangler.toml"),
    bundleWorker("runtime", "examples/runtime/wrangler.toml"),
    loadTs("examples/runtime/src/graphs.ts"),
  ]);
  const workers = { config, runtime };
  let engine = await startEngine(workers);
  console.log(`fault: engine up in ${elapsed(t0)}; ${branches} branches, ${kills} kills, default leases`);

  // The seed graph with no retry at all: a kill is no node failure, so it must not cost an attempt (the
  // deliveries a kill lost are sent again under the delivery lease, design §6).
  const graph = `fault-${Date.now().toString(36)}`;
  const retry_policy = { max_retries: 0 };
  const upserted = await call(engine.base, "PUT", `/v0/namespace/${NS}/graph/${graph}`, {
    body: { ...sources.splitProcessMergeGraph, retry_policy },
  });
  if (upserted.json.validation_status !== "VALID") {
    throw new ScriptError(
      `the seed graph did not validate: ${JSON.stringify(upserted.json.validation_errors)}`,
    );
  }
  // Kill 1 cuts the trigger request off: the client may never see its answer. Sent again with the same
  // Idempotency-Key after the restart, it answers the run the first request recorded (its start repaired
  // if the kill came between recording and starting it), or starts the run if the first request recorded
  // nothing; either way there is exactly one run (checked at the end).
  const trigger = () =>
    call(engine.base, "POST", `/v0/namespace/${NS}/graph/${graph}/trigger`, {
      body: { inputs: { data: jsonRange(branches), chunk_size: "1" } },
      headers: { "idempotency-key": graph },
    });
  let killed = 0;
  let runId;
  if (kills > 0) {
    const first = trigger().then(
      (answer) => answer.json.run_id,
      () => undefined,
    );
    await sleep(20 + Math.floor(Math.random() * 200));
    await killEngine(engine);
    killed = 1;
    const answered = await first;
    console.log(
      `fault: kill 1 (SIGKILL) during the trigger request (${answered ? "answered before the kill" : "cut off"}), at ${elapsed(t0)}`,
    );
    engine = await startEngine(workers);
    console.log(`fault: restarted on the same state at ${elapsed(t0)}`);
    runId = (await trigger()).json.run_id;
    if (answered !== undefined && answered !== runId) {
      throw new ScriptError(
        `the trigger sent again with its Idempotency-Key answered ${runId}, not ${answered}`,
      );
    }
  } else runId = (await trigger()).json.run_id;
  console.log(`fault: run ${runId}`);

  // Every later kill finds work in flight: kill 2 as soon as the fan-out is visible and its branches are
  // running; every later one at the first poll after a restart, while the states that were in flight at
  // the previous kill wait for their delivery lease.
  let lastRestart = Date.now();
  let lastKey = "";
  let lastChange = Date.now();
  let row;
  const killsDuringBranches = [];
  for (;;) {
    row = await runRow(engine.base, runId);
    if (!row) throw new ScriptError(`run ${runId} is not listed`);
    if (row.pending_count === 0 && row.status !== "PENDING") break;
    const fannedOut = row.total_count > 2 && row.pending_count > 1;
    const due = killed <= 1 ? fannedOut : true;
    if (killed < kills && due) {
      killed += 1;
      const { processed } = seedProgress(row, branches);
      if (fannedOut) killsDuringBranches.push(killed);
      await killEngine(engine);
      console.log(
        `fault: kill ${killed} (SIGKILL) with ${row.pending_count} of ${row.total_count} states pending, ` +
          `${processed}/${branches} branches done, at ${elapsed(t0)}`,
      );
      engine = await startEngine(workers);
      lastRestart = Date.now();
      console.log(`fault: restarted on the same state at ${elapsed(t0)}`);
      lastChange = Date.now();
      continue;
    }
    const key = [row.success_count, row.errored_count, row.retried_count, row.total_count].join("/");
    if (key !== lastKey) {
      lastKey = key;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      keepLogs = true;
      const { processed } = seedProgress(row, branches);
      throw new ScriptError(
        `no progress for ${stallMs / 1000} s: ${processed}/${branches} branches done, ${row.pending_count} pending`,
      );
    }
    await sleep(20);
  }
  const recovered = Date.now() - lastRestart;
  console.log(
    `fault: run ended ${row.status} in ${elapsed(t0)} after ${killed} kills, ` +
      `${(recovered / 1000).toFixed(1)} s after the last restart`,
  );

  const errors = [];
  const expectedStates = 2 * branches + 1; // the splitter's head and clones, the processors, the merger
  if (killed < kills) errors.push(`the run ended after ${killed} of ${kills} kills: use more --branches`);
  if (kills >= 2 && killsDuringBranches.length === 0) {
    errors.push("no kill came while branches were running: use more --branches");
  }
  if (row.status !== "SUCCESS") errors.push(`status ${row.status}, expected SUCCESS`);
  if (row.success_count !== expectedStates) {
    errors.push(
      `success_count ${row.success_count}, expected ${expectedStates} (a state lost or duplicated)`,
    );
  }
  if (row.errored_count !== 0) errors.push(`errored_count ${row.errored_count}, expected 0`);
  if (row.retried_count !== 0) {
    errors.push(`${row.retried_count} retries spent, expected none (a kill is no node failure)`);
  }
  if (recovered > recoverMs) {
    errors.push(`the run ended ${recovered / 1000} s after the last restart, over ${recoverMs / 1000} s`);
  }
  if (row.total_count !== row.success_count + row.retried_count) {
    errors.push(
      `total_count ${row.total_count} is not success ${row.success_count} + retried ${row.retried_count}`,
    );
  }
  const view = await call(
    engine.base,
    "GET",
    `/v0/namespace/${NS}/states/run/${runId}/graph?identifier=merger`,
  );
  const mergers = view.json.nodes.filter((s) => s.identifier === "merger" && s.status === "SUCCESS");
  if (mergers.length !== 1) errors.push(`${mergers.length} successful merger states, expected exactly 1`);
  else {
    const { json: merger } = await call(
      engine.base,
      "GET",
      `/v0/namespace/${NS}/graph/${graph}/run/${runId}/node/${mergers[0].id}`,
    );
    const expected = rangeSum(branches);
    if (merger.outputs?.merged !== expected)
      errors.push(`merged ${merger.outputs?.merged}, expected ${expected}`);
  }
  // The same key again: the first run, and no second one.
  const { json: replay } = await trigger();
  if (replay.run_id !== runId) errors.push(`the trigger's Idempotency-Key answered run ${replay.run_id}`);
  const { json: listed } = await call(engine.base, "GET", `/v0/namespace/${NS}/runs/1/10`);
  if (listed.total !== 1) errors.push(`${listed.total} runs listed, expected 1`);

  if (errors.length > 0) {
    keepLogs = true;
    throw new ScriptError(`the run is wrong after ${killed} kills: ${errors.join("; ")}`);
  }
  console.log(
    `fault: OK: SUCCESS, ${row.success_count} states exact, merged ${rangeSum(branches)}, ` +
      `no retry spent, ${elapsed(t0)} in all`,
  );
  return true;
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  if (e instanceof ScriptError) console.error(`fault: ${oneLine(e.message)}`);
  else {
    keepLogs = true;
    console.error("fault: unexpected error (a bug in the fault script; please report it with this trace):");
    console.error(e instanceof Error ? e.stack : e);
  }
} finally {
  await cleanup();
}
process.exit(ok ? 0 : 1);
