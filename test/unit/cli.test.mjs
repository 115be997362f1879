// `npx exoflare` as a user and a shell script meet it: each command run as a child process against a stub
// of the engine's API in this process, which records what it was asked. Text for people, --json for
// scripts, one line on stderr for every failure, and exit codes 0 / 1 / 2.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHILD_PROCESSES = { timeout: 60_000 };
const lines = (text) => text.split("\n").filter((l) => l.trim() !== "");

/** Runs the CLI with `args`, without the engine's environment variables unless `env` gives them. */
function exoflare(args, env = {}) {
  const clean = { ...process.env };
  for (const name of ["EXOSPHERE_STATE_MANAGER_URI", "EXOSPHERE_API_KEY", "STATE_MANAGER_SECRET"]) {
    delete clean[name];
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "scripts/exoflare.mjs"), ...args],
      { cwd: root, env: { ...clean, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * A stub engine: `handler(req, body)` answers `{ status, json }` or `{ status, events: [[event, data]] }`
 * (a text/event-stream). Every request is recorded with its body and key.
 */
async function stub(handler) {
  const seen = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        key: req.headers["x-api-key"],
        body: body && JSON.parse(body),
      });
      const answer = handler(req, body);
      if (answer.events) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const [event, data] of answer.events)
          res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        res.end();
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.json));
    });
  });
  onTestFinished(() => new Promise((r) => server.close(() => r())));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

const RUN_ID = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const counts = (over) => ({
  CREATED: 0,
  QUEUED: 0,
  EXECUTED: 0,
  ERRORED: 0,
  NEXT_CREATED_ERROR: 0,
  SUCCESS: 0,
  PRUNED: 0,
  RETRY_CREATED: 0,
  ...over,
});
const view = (status, processed, failed = 0) => ({
  run_id: RUN_ID,
  graph_name: "sum",
  namespace: "examples",
  status,
  success_count: 1 + processed,
  pending_count: status === "PENDING" ? 4 - processed - failed : 0,
  errored_count: failed,
  retried_count: 0,
  total_count: 5,
  created_at: "2026-01-01T00:00:00",
  nodes: [
    {
      identifier: "split",
      node_name: "Split",
      namespace: "examples",
      next_nodes: ["work"],
      unites: null,
      states: counts({ SUCCESS: 1 }),
      total: 1,
    },
    {
      identifier: "work",
      node_name: "Work",
      namespace: "examples",
      next_nodes: [],
      unites: null,
      states: counts({ SUCCESS: processed, ERRORED: failed, QUEUED: 4 - processed - failed }),
      total: 4,
    },
  ],
});

describe.concurrent("help and usage", CHILD_PROCESSES, () => {
  it("--help lists the commands; a command's --help its arguments and options", async () => {
    const all = await exoflare(["--help"]);
    expect(all.code).toBe(0);
    for (const c of [
      /runs\s+<namespace>/,
      /run\s+<namespace> <run_id>/,
      /trigger\s+<namespace> <graph>/,
      /retry\s+/,
      /cancel\s+/,
      /Exit codes/,
    ]) {
      expect(all.stdout).toMatch(c);
    }
    const run = await exoflare(["run", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: exoflare run <namespace> <run_id> [options]");
    expect(run.stdout).toContain("--watch");
    expect(run.stdout).toContain("EXOSPHERE_STATE_MANAGER_URI");
  });

  const cases = [
    [
      [],
      [
        "exoflare: which command?",
        "Commands: runs, run, trigger, retry, cancel. Run `exoflare --help` for more.",
      ],
    ],
    [["frob"], ["exoflare: unknown command 'frob'", expect.stringContaining("Commands:")]],
    [
      ["run", "ns"],
      ["exoflare: missing <run_id>", "Run `exoflare run --help` for the options."],
    ],
    [
      ["runs", "ns", "extra"],
      ["exoflare: unexpected argument 'extra'", expect.any(String)],
    ],
    [
      ["runs", "ns", "--page", "0"],
      ["exoflare: --page must be an integer ≥ 1, not '0'", expect.any(String)],
    ],
    [
      ["trigger", "ns", "g", "--input", "novalue"],
      ["exoflare: --input takes NAME=VALUE, not 'novalue'", expect.any(String)],
    ],
    [
      ["trigger", "ns", "g", "--inputs", "[1]"],
      [expect.stringContaining("--inputs must be a JSON object"), expect.any(String)],
    ],
    [
      ["runs", "ns", "--url", "localhost:1"],
      [expect.stringContaining("--url must be an http(s) URL"), expect.any(String)],
    ],
  ];
  for (const [args, expected] of cases) {
    it(`exoflare ${args.join(" ")}: exit 2 with a line and a hint`, async () => {
      const { code, stdout, stderr } = await exoflare(args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(lines(stderr)).toEqual(expected);
    });
  }
});

describe.concurrent("commands against a stub engine", CHILD_PROCESSES, () => {
  it("runs: a table of the page, with the key and URL from Exosphere's environment variables", async () => {
    const engine = await stub(() => ({
      status: 200,
      json: {
        namespace: "examples",
        total: 1,
        page: 2,
        size: 5,
        runs: [{ ...view("PENDING", 1), status: "PENDING" }],
      },
    }));
    const { code, stdout } = await exoflare(["runs", "examples", "--page", "2", "--size", "5"], {
      EXOSPHERE_STATE_MANAGER_URI: engine.url,
      EXOSPHERE_API_KEY: "env-key",
    });
    expect(code).toBe(0);
    expect(engine.seen).toEqual([
      { method: "GET", url: "/v0/namespace/examples/runs/2/5", key: "env-key", body: "" },
    ]);
    expect(stdout).toContain("RUN");
    expect(stdout).toMatch(new RegExp(`${RUN_ID}\\s+sum\\s+PENDING`));
    expect(stdout).toContain("page 2 of 1 (1 runs)");
  });

  it("run: the run and each node's states; --json: the engine's answer", async () => {
    const engine = await stub(() => ({ status: 200, json: view("PENDING", 2, 1) }));
    const text = await exoflare(["run", "examples", RUN_ID, "--url", engine.url, "--key", "k"]);
    expect(text.code).toBe(0);
    expect(engine.seen[0]).toMatchObject({
      url: `/v0/namespace/examples/states/run/${RUN_ID}/nodes`,
      key: "k",
    });
    expect(text.stdout).toContain("PENDING");
    expect(text.stdout).toMatch(/work\s+\[#+\.+\] QUEUED 1 · SUCCESS 2 · ERRORED 1/);
    const json = await exoflare(["run", "examples", RUN_ID, "--url", engine.url, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual(view("PENDING", 2, 1));
  });

  it("run --watch: follows the stream to SUCCESS and exits 0", async () => {
    const engine = await stub(() => ({
      events: [
        ["progress", view("PENDING", 0)],
        ["progress", view("PENDING", 2)],
        ["progress", view("SUCCESS", 4)],
        ["end", { status: "SUCCESS" }],
      ],
    }));
    const { code, stdout, stderr } = await exoflare([
      "run",
      "examples",
      RUN_ID,
      "--watch",
      "--url",
      engine.url,
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(engine.seen[0]?.url).toBe(`/v0/namespace/examples/states/run/${RUN_ID}/events`);
    const progress = lines(stdout).filter((l) => /states done/.test(l));
    expect(progress[0]).toMatch(/^PENDING\s+\[#{6}\.{24}\] 1\/5 states done/);
    expect(progress.at(-1)).toMatch(/^SUCCESS\s+\[#+\] 5\/5 states done, 0 failed/);
  });

  it("run --watch: a run that ends FAILED exits 1 with one line that says where to look", async () => {
    const engine = await stub(() => ({
      events: [
        ["progress", view("FAILED", 3, 1)],
        ["end", { status: "FAILED" }],
      ],
    }));
    const { code, stderr } = await exoflare(["run", "examples", RUN_ID, "-w", "--url", engine.url]);
    expect(code).toBe(1);
    expect(lines(stderr)).toEqual([
      `exoflare: run ${RUN_ID} ended FAILED with 1 failed state: \`exoflare run examples ${RUN_ID}\` shows where`,
    ]);
  });

  it("trigger: sends the inputs and store, prints the run id, warnings on stderr", async () => {
    const engine = await stub(() => ({
      status: 200,
      json: { status: "CREATED", run_id: RUN_ID, warnings: ["input 'x' is not an input of the root"] },
    }));
    const { code, stdout, stderr } = await exoflare([
      "trigger",
      "examples",
      "sum",
      "--inputs",
      '{"data": "[1,2]", "chunk_size": "1"}',
      "--input",
      "chunk_size=2",
      "--store",
      "k=v=w",
      "--start-delay",
      "5",
      "--url",
      engine.url,
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${RUN_ID}\n`);
    expect(lines(stderr)).toEqual(["exoflare: warning: input 'x' is not an input of the root"]);
    expect(engine.seen[0]).toMatchObject({
      method: "POST",
      url: "/v0/namespace/examples/graph/sum/trigger",
      body: { inputs: { data: "[1,2]", chunk_size: "2" }, store: { k: "v=w" }, start_delay: 5 },
    });
  });

  it("retry: a fresh fanout id each time (or the one given), prints the new state's id", async () => {
    const engine = await stub(() => ({
      status: 200,
      json: { id: "aaaabbbbccccdddd00000009", status: "CREATED" },
    }));
    const first = await exoflare(["retry", "examples", "aaaabbbbccccdddd00000002", "--url", engine.url]);
    const second = await exoflare(["retry", "examples", "aaaabbbbccccdddd00000002", "--url", engine.url]);
    const named = await exoflare([
      "retry",
      "examples",
      "aaaabbbbccccdddd00000002",
      "--fanout-id",
      "f1",
      "--url",
      engine.url,
    ]);
    expect([first.code, second.code, named.code]).toEqual([0, 0, 0]);
    expect(first.stdout).toBe("aaaabbbbccccdddd00000009\n");
    const ids = engine.seen.map((s) => s.body.fanout_id);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).not.toBe(ids[0]);
    expect(ids[2]).toBe("f1");
    expect(engine.seen[0]?.url).toBe("/v0/namespace/examples/state/aaaabbbbccccdddd00000002/manual-retry");
  });

  it("cancel: prints the engine's answer; says so when the engine has no cancel route", async () => {
    const engine = await stub((req) =>
      req.url.includes(RUN_ID)
        ? { status: 200, json: { run_id: RUN_ID, status: "CANCELLED" } }
        : { status: 404, json: { detail: "Not Found" } },
    );
    const done = await exoflare(["cancel", "examples", RUN_ID, "--url", engine.url]);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe(`${RUN_ID}: CANCELLED\n`);
    expect(engine.seen[0]).toMatchObject({
      method: "POST",
      url: `/v0/namespace/examples/states/run/${RUN_ID}/cancel`,
    });
    const old = await exoflare(["cancel", "examples", "other", "--url", engine.url]);
    expect(old.code).toBe(1);
    expect(lines(old.stderr)).toEqual([
      `exoflare: the engine at ${engine.url} does not offer cancel (404 Not Found): it predates run cancellation`,
    ]);
  });

  it("a refused request, a wrong key and a stopped engine: one line each, exit 1", async () => {
    const engine = await stub((req) =>
      req.headers["x-api-key"] === "bad"
        ? { status: 401, json: { detail: "Invalid API key" } }
        : { status: 404, json: { detail: `Run ${RUN_ID} not found` } },
    );
    const missing = await exoflare(["run", "examples", RUN_ID, "--url", engine.url]);
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual([
      `exoflare: GET /v0/namespace/examples/states/run/${RUN_ID}/nodes was refused: 404 Run ${RUN_ID} not found`,
    ]);
    const watched = await exoflare(["run", "examples", RUN_ID, "--watch", "--url", engine.url]);
    expect(lines(watched.stderr)).toEqual([
      `exoflare: GET /v0/namespace/examples/states/run/${RUN_ID}/events was refused: 404 Run ${RUN_ID} not found`,
    ]);
    const key = await exoflare(["runs", "examples", "--url", engine.url, "--key", "bad"]);
    expect(key.code).toBe(1);
    expect(lines(key.stderr)).toEqual([expect.stringContaining("refused the API key (401)")]);
    const closed = await exoflare(["runs", "examples", "--url", "http://127.0.0.1:9"]);
    expect(closed.code).toBe(1);
    expect(lines(closed.stderr)).toEqual([
      expect.stringMatching(/^exoflare: cannot reach the engine at .*--url/),
    ]);
  });
});
