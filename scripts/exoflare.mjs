#!/usr/bin/env node
// `npx exoflare <command>`: the engine from a terminal or a shell script, over the project's typed client
// (src/client/). `npx exoflare --help` lists the commands, `npx exoflare <command> --help` their options.
// Exit codes: 0 done (with --watch: the run succeeded), 1 failed (one line says why), 2 bad command line.
import { parseCli, runMain, ScriptError } from "./lib/cli.mjs";
import { checkUri, connectionOptions, engineFetch, RefusedError } from "./lib/engine.mjs";
import { describeWaiting, waitsOnUnserved } from "./lib/waiting.mjs";

const STATUS_ORDER = [
  "CREATED",
  "QUEUED",
  "EXECUTED",
  "SUCCESS",
  "PRUNED",
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "RETRY_CREATED",
  "CANCELLED",
];

const { uri, key } = connectionOptions();
const COMMON = {
  url: { ...uri, description: "the engine's base URL [env EXOSPHERE_STATE_MANAGER_URI]" },
  key,
  json: { type: "boolean", description: "print the engine's JSON answer instead of text" },
};
const WATCH = {
  watch: {
    type: "boolean",
    short: "w",
    description: "follow the run live with a progress bar until it stops; exit 0 only if it succeeded",
  },
};
const arg = (name, description) => ({ name, description });

const COMMANDS = {
  runs: {
    summary: "A page of a namespace's runs, newest first, with their counts.",
    positionals: [arg("namespace", "the namespace")],
    options: {
      page: { type: "string", value: "N", default: "1", description: "page number, from 1" },
      size: { type: "string", value: "N", default: "20", description: "runs per page (at most 1000)" },
    },
    run: listRuns,
  },
  run: {
    summary: "A run: its status, counts and progress, and each node's states by status.",
    positionals: [arg("namespace", "the run's namespace"), arg("run_id", "the run id (a uuid)")],
    options: WATCH,
    run: showRun,
  },
  trigger: {
    summary: "Starts a run of a graph; prints its run id (and, with --watch, follows it).",
    positionals: [arg("namespace", "the graph's namespace"), arg("graph", "the graph's name")],
    options: {
      input: {
        type: "string",
        value: "NAME=VALUE",
        multiple: true,
        description: "an input of the root node (repeat for more)",
      },
      inputs: { type: "string", value: "JSON", description: "the root's inputs as a JSON object of strings" },
      store: {
        type: "string",
        value: "KEY=VALUE",
        multiple: true,
        description: "a store value (repeatable)",
      },
      "start-delay": {
        type: "string",
        value: "MS",
        description: "milliseconds before the first state may run",
      },
      ...WATCH,
    },
    run: triggerRun,
  },
  retry: {
    summary: "Runs a failed (ERRORED, NEXT_CREATED_ERROR) or pruned state again; prints the new state's id.",
    positionals: [arg("namespace", "the state's namespace"), arg("state_id", "the state id (24 hex digits)")],
    options: {
      "fanout-id": { type: "string", value: "ID", description: "names this retry (default: a fresh uuid)" },
    },
    run: retryState,
  },
  cancel: {
    summary: "Cancels a run: nothing new is dispatched, waiting states are cancelled.",
    positionals: [arg("namespace", "the run's namespace"), arg("run_id", "the run id")],
    options: {},
    run: cancelRun,
  },
};

const EXIT_CODES =
  "Exit codes: 0 done (with --watch: the run succeeded), 1 failed (the engine refused, could not be\n" +
  "reached, or the watched run did not succeed; one line on stderr says why), 2 wrong command line.";

function globalHelp() {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    "Usage: exoflare <command> [arguments] [options]",
    "",
    "Drives an exoflare engine (`npm start`, or a deployed one): its runs, live progress, retries.",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => {
      const args = c.positionals.map((p) => `<${p.name}>`).join(" ");
      return `  ${name.padEnd(width)}${args}\n  ${"".padEnd(width)}${c.summary}`;
    }),
    "",
    "Every command takes --url URL (env EXOSPHERE_STATE_MANAGER_URI, else http://127.0.0.1:8787),",
    "--key KEY (env EXOSPHERE_API_KEY, then STATE_MANAGER_SECRET, else the local default) and --json.",
    "`exoflare <command> --help` shows a command's options.",
    "",
    EXIT_CODES,
  ].join("\n");
}

const [command, ...rest] = process.argv.slice(2);
if (command === "-h" || command === "--help" || command === "help") {
  console.log(globalHelp());
  process.exit(0);
}
if (command === undefined || !Object.hasOwn(COMMANDS, command)) {
  console.error(
    command === undefined ? "exoflare: which command?" : `exoflare: unknown command '${command}'`,
  );
  console.error(`Commands: ${Object.keys(COMMANDS).join(", ")}. Run \`exoflare --help\` for more.`);
  process.exit(2);
}
const spec = COMMANDS[command];
const { values, positionals, usage } = parseCli(
  {
    name: "exoflare",
    command: `exoflare ${command}`,
    helpCommand: `exoflare ${command} --help`,
    usage: `exoflare ${command} ${spec.positionals.map((p) => `<${p.name}>`).join(" ")} [options]`,
    summary: spec.summary,
    positionals: spec.positionals,
    options: { ...spec.options, ...COMMON },
    epilog: EXIT_CODES,
  },
  rest,
);
const url = checkUri(usage, values.url, "--url");

await runMain("exoflare", async () => {
  const { StateManager } = await loadClient();
  const client = new StateManager({
    namespace: positionals[0],
    uri: url,
    key: values.key,
    fetch: engineFetch({ uri: url, refuseErrors: true, flag: "--url" }),
  });
  return spec.run(client, positionals, values, usage);
});

// ---- commands ----

async function listRuns(client, [namespace], values, usage) {
  const page = positiveInt(usage, "page", values.page);
  const size = positiveInt(usage, "size", values.size);
  const answer = await client.runs(page, size);
  if (values.json) return printJson(answer);
  if (answer.runs.length === 0) {
    console.log(`No runs on page ${page} of namespace ${namespace} (${answer.total} runs in all).`);
    return 0;
  }
  const rows = answer.runs.map((r) => [
    r.run_id,
    r.graph_name,
    r.status,
    `${bar(r.total_count - r.pending_count, r.total_count, 10)} ${r.total_count - r.pending_count}/${r.total_count}`,
    String(r.success_count),
    String(r.pending_count),
    String(r.errored_count),
    r.created_at,
  ]);
  printTable(["RUN", "GRAPH", "STATUS", "DONE", "SUCCEEDED", "PENDING", "FAILED", "CREATED (UTC)"], rows);
  const pages = Math.max(1, Math.ceil(answer.total / size));
  console.log(`page ${page} of ${pages} (${answer.total} runs)`);
  return 0;
}

async function showRun(client, [, runId], values) {
  if (values.watch) return watch(client, runId, values.json);
  const view = await client.runNodes(runId);
  if (values.json) return printJson(view);
  console.log(runLines(view).join("\n"));
  return 0;
}

async function triggerRun(client, [, graph], values, usage) {
  const inputs = {
    ...jsonObject(usage, "--inputs", values.inputs),
    ...pairs(usage, "--input", values.input),
  };
  const store = pairs(usage, "--store", values.store);
  const startDelay =
    values["start-delay"] === undefined ? 0 : positiveInt(usage, "start-delay", values["start-delay"], 0);
  const answer = await client.trigger(graph, { inputs, store, startDelay });
  if (values.json && !values.watch) return printJson(answer);
  for (const warning of answer.warnings ?? []) console.error(`exoflare: warning: ${warning}`);
  console.log(answer.run_id);
  return values.watch ? watch(client, answer.run_id, values.json) : 0;
}

async function retryState(client, [, stateId], values) {
  const answer = await client.manualRetry(stateId, values["fanout-id"]);
  if (values.json) return printJson(answer);
  console.log(answer.id);
  return 0;
}

async function cancelRun(client, [, runId], values) {
  let answer;
  try {
    answer = await client.cancelRun(runId);
  } catch (e) {
    // No route at all (FastAPI's plain "Not Found"), as opposed to a run that is not found.
    if (e instanceof RefusedError && e.status === 404 && e.detail === "Not Found") {
      throw new ScriptError(
        `the engine at ${url} does not offer cancel (404 Not Found): it predates run cancellation`,
      );
    }
    throw e;
  }
  if (values.json) return printJson(answer);
  console.log(`${answer.run_id}: ${answer.status}`);
  return 0;
}

/** Follows the run until it stops: a progress line redrawn in place on a terminal, a line per change otherwise. */
async function watch(client, runId, asJson) {
  const tty = process.stdout.isTTY && !asJson;
  let last;
  let drawn = 0;
  for await (const view of client.followRun(runId)) {
    last = view;
    // The engine names what a stalled run waits on; when nothing serves it, following it is pointless.
    if (waitsOnUnserved(view)) {
      if (tty && drawn > 0) process.stdout.write("\n");
      throw new ScriptError(`run ${runId} waits on nodes nobody serves: ${describeWaiting(view.waiting)}`);
    }
    if (asJson) console.log(JSON.stringify(view));
    else if (tty) {
      const lines = runLines(view);
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
      process.stdout.write(`${lines.join("\n")}\n`);
      drawn = lines.length;
    } else console.log(progressLine(view));
  }
  if (!last) throw new ScriptError(`run ${runId} sent no progress`);
  if (!tty && !asJson) console.log(runLines(last).slice(1).join("\n"));
  if (last.status === "SUCCESS") return 0;
  const failed = last.errored_count;
  throw new ScriptError(
    `run ${runId} ended ${last.status}${failed > 0 ? ` with ${failed} failed state${failed === 1 ? "" : "s"}` : ""}: ` +
      `\`exoflare run ${last.namespace} ${runId}\` shows where`,
  );
}

// ---- text ----

function bar(done, total, width = 30) {
  const filled = total === 0 ? 0 : Math.min(width, Math.floor((done / total) * width));
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

function progressLine(view) {
  const done = view.total_count - view.pending_count;
  return `${view.status.padEnd(8)} ${bar(done, view.total_count)} ${done}/${view.total_count} states done, ${view.errored_count} failed`;
}

function runLines(view) {
  const width = Math.max(...view.nodes.map((n) => n.identifier.length));
  return [
    `run ${view.run_id} of graph ${view.graph_name} (${view.namespace}), created ${view.created_at} UTC`,
    progressLine(view),
    ...(view.warnings ?? []).map((w) => `warning: ${w}`),
    ...(view.waiting?.length ? [`waiting: ${describeWaiting(view.waiting)}`] : []),
    ...view.nodes.map((n) => {
      const pending = (n.states.CREATED ?? 0) + (n.states.QUEUED ?? 0) + (n.states.EXECUTED ?? 0);
      const counts = STATUS_ORDER.filter((s) => (n.states[s] ?? 0) > 0)
        .map((s) => `${s} ${n.states[s]}`)
        .join(" · ");
      return `  ${n.identifier.padEnd(width)} ${bar(n.total - pending, n.total, 20)} ${counts || "no states yet"}`;
    }),
  ];
}

function printTable(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [head, ...rows])
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    );
}

function printJson(value) {
  console.log(JSON.stringify(value, null, 2));
  return 0;
}

// ---- option values ----

function positiveInt(usage, name, raw, min = 1) {
  const n = /^\d+$/.test(String(raw).trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, not '${raw}'`);
  return n;
}

function jsonObject(usage, flag, raw) {
  if (raw === undefined) return {};
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return usage(`${flag} must be a JSON object such as '{"data": "[1,2,3]"}'`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return usage(`${flag} must be a JSON object such as '{"data": "[1,2,3]"}'`);
  }
  return value;
}

function pairs(usage, flag, list = []) {
  const out = {};
  for (const item of list) {
    const at = item.indexOf("=");
    if (at <= 0) usage(`${flag} takes NAME=VALUE, not '${item}'`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

/**
 * The TypeScript client: built (an installed package has dist/client.js), else from the sources through
 * esbuild (a checkout, where esbuild is a devDependency).
 */
async function loadClient() {
  try {
    return await import("../dist/client.js");
  } catch (e) {
    if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
    const { loadTs } = await import("./lib/load-ts.mjs");
    return loadTs("src/client/index.ts");
  }
}
