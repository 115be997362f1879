// The npm scripts as a user meets them: --help, one-line usage errors (exit 2), and one-line failures
// (exit 1) when the engine is down, refuses the key, refuses a request or makes no progress. Each script
// runs as a child process against no server or against a tiny stub of the engine's API in this process.
// One line on stderr is also the proof that no stack trace was printed. Plain JavaScript, like the
// scripts it runs: the project's TypeScript setup has Workers types, not Node's.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Runs `node <script> ...args` in the repository, without the engine's environment variables. */
function run(script, args, input = {}) {
  const env = { ...process.env };
  for (const name of ["EXOSPHERE_STATE_MANAGER_URI", "EXOSPHERE_API_KEY", "STATE_MANAGER_SECRET"]) {
    delete env[name];
  }
  const argv = input.eval ? ["--input-type=module", "-e", script, ...args] : [join(root, script), ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: root, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Each test starts Node processes (some bundle the sources first): slow on a busy machine, never stuck. */
const CHILD_PROCESSES = { timeout: 60_000 };

const lines = (text) => text.split("\n").filter((l) => l.trim() !== "");

/** A stub engine on a free port of 127.0.0.1 answering with `handler`; closed when the test ends. */
async function stubEngine(handler) {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const { status, json } = handler(req, body);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    });
  });
  onTestFinished(() => new Promise((r) => server.close(() => r())));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${server.address().port}`;
}

/** A URL on which nothing listens: a port that was free a moment ago. */
async function closedPort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

/** The engine's answers to the demo up to its trigger; `trigger` (or `trigger(body)`) decides that one. */
const demoEngine =
  (trigger, more = () => ({ status: 404, json: {} })) =>
  (req, body) => {
    if (req.method === "PUT" && req.url?.includes("/graph/")) {
      return { status: 201, json: { validation_status: "VALID", validation_errors: [] } };
    }
    if (req.method === "POST" && req.url?.endsWith("/trigger")) {
      return typeof trigger === "function" ? trigger(body) : trigger;
    }
    return more(req, body);
  };

describe.concurrent("--help", CHILD_PROCESSES, () => {
  const scripts = [
    ["scripts/demo.mjs", "npm run demo", ["--items N", "--chunk-size N", "--uri URL", "--key KEY"]],
    [
      "scripts/pull-runtime.mjs",
      "npm run runtime:pull",
      ["--uri URL", "--key KEY", "--namespace NS", "--demo"],
    ],
    [
      "scripts/bench.mjs",
      "npm run bench",
      ["--sizes", "--quick", "--out FILE", "--engine-dir DIR", "--engine-var NAME:VALUE"],
    ],
    ["scripts/start.mjs", "npm start", ["--port 8787", "--persist-to"]],
    [
      "scripts/fault.mjs",
      "npm run fault",
      ["--branches N", "--kills N", "--recover-within SECONDS", "--keep-logs"],
    ],
  ];
  for (const [script, command, options] of scripts) {
    it(`${command} -- --help and -h print the options and exit 0`, async () => {
      for (const flag of ["--help", "-h"]) {
        const { code, stdout, stderr } = await run(script, [flag]);
        expect(code).toBe(0);
        expect(stderr).toBe("");
        expect(stdout).toContain(`Usage: ${command} -- [`);
        for (const option of options) expect(stdout).toContain(option);
      }
    });
  }
});

describe.concurrent("usage errors", CHILD_PROCESSES, () => {
  const cases = [
    ["scripts/demo.mjs", ["--frobnicate"], "demo: unknown option '--frobnicate'"],
    ["scripts/fault.mjs", ["--kills", "-1"], "fault: option '--kills' needs a value (--kills N)"],
    [
      "scripts/fault.mjs",
      ["--branches", "0"],
      "fault: --branches must be an integer between 1 and 1000000, not '0'",
    ],
    ["scripts/demo.mjs", ["--items"], "demo: option '--items' needs a value (--items N)"],
    [
      "scripts/demo.mjs",
      ["--items", "--chunk-size", "2"],
      "demo: option '--items' needs a value (--items N)",
    ],
    ["scripts/demo.mjs", ["stray"], "demo: unexpected argument 'stray'"],
    ["scripts/demo.mjs", ["--items", "ten"], "demo: --items must be an integer ≥ 0, not 'ten'"],
    [
      "scripts/demo.mjs",
      ["--uri", "localhost:8787"],
      "demo: --uri must be an http(s) URL such as http://127.0.0.1:8787, not 'localhost:8787'",
    ],
    [
      "scripts/pull-runtime.mjs",
      ["--workers", "0"],
      "runtime:pull: --workers must be an integer ≥ 1, not '0'",
    ],
    ["scripts/pull-runtime.mjs", ["--demo=yes"], "runtime:pull: option '--demo' takes no value"],
    ["scripts/bench.mjs", ["--sizes", "1000,lots"], "bench: --sizes must be an integer ≥ 1, not 'lots'"],
    [
      "scripts/bench.mjs",
      ["--engine-var", "shards=1"],
      "bench: --engine-var shards=1 is not NAME:VALUE (e.g. SHARD_FROM_OUTPUT:1)",
    ],
  ];
  for (const [script, args, message] of cases) {
    it(`${script} ${args.join(" ")}: one line and a hint, exit 2`, async () => {
      const { code, stdout, stderr } = await run(script, args);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      const command = /(demo|fault|bench)\.mjs$/.exec(script)?.[1] ?? "runtime:pull";
      expect(lines(stderr)).toEqual([message, `Run \`npm run ${command} -- --help\` for the options.`]);
    });
  }
});

describe.concurrent("failures: one line that says what to do, exit 1, no stack", CHILD_PROCESSES, () => {
  it("demo: the engine is not running", async () => {
    const uri = await closedPort();
    const { code, stderr } = await run("scripts/demo.mjs", ["--uri", uri]);
    expect(code).toBe(1);
    expect(lines(stderr)).toEqual([
      `demo: cannot reach the engine at ${uri} (connection refused): start it with \`npm start\` in another terminal, or pass its address with --uri`,
    ]);
  });

  it("runtime:pull: the engine is not running, with no option given but --uri", async () => {
    const uri = await closedPort();
    const { code, stderr } = await run("scripts/pull-runtime.mjs", ["--uri", uri]);
    expect(code).toBe(1);
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toContain(`runtime:pull: cannot reach the engine at ${uri} (connection refused)`);
  });

  it("demo and runtime:pull: the engine refuses the key", async () => {
    const uri = await stubEngine(() => ({ status: 401, json: { detail: "Invalid API key" } }));
    for (const [script, name] of [
      ["scripts/demo.mjs", "demo"],
      ["scripts/pull-runtime.mjs", "runtime:pull"],
    ]) {
      const { code, stderr } = await run(script, ["--uri", uri, "--key", "wrong"]);
      expect(code).toBe(1);
      expect(lines(stderr)).toEqual([
        `${name}: the engine at ${uri} refused the API key (401): pass the key that \`npm start\` prints with --key, or set EXOSPHERE_API_KEY`,
      ]);
    }
  });

  it("demo: a refused trigger shows its status and detail", async () => {
    const uri = await stubEngine(
      demoEngine({ status: 413, json: { detail: "Root inputs are larger than 1500000 bytes" } }),
    );
    const { code, stdout, stderr } = await run("scripts/demo.mjs", ["--uri", uri, "--items", "1000000"]);
    expect(code).toBe(1);
    expect(stdout).toContain("triggering a run: 1000000 items (6.9 MB of JSON) in 1000000 branches");
    expect(lines(stderr)).toEqual([
      "demo: POST /v0/namespace/examples/graph/seed_split_process_merge/trigger was refused: 413 Root inputs are larger than 1500000 bytes",
    ]);
  });

  it("demo: a 422 shows where each problem is", async () => {
    const detail = [{ type: "missing", loc: ["body", "inputs"], msg: "Field required", input: {} }];
    const uri = await stubEngine(demoEngine({ status: 422, json: { detail } }));
    const { code, stderr } = await run("scripts/demo.mjs", ["--uri", uri]);
    expect(code).toBe(1);
    expect(stderr).toContain("was refused: 422 body.inputs: Field required\n");
  });

  it("demo: a run that makes no progress stops with the node it waits on and what serves it", async () => {
    const runId = "00000000-0000-4000-8000-000000000000";
    const pending = { run_id: runId, status: "PENDING", pending_count: 1, total_count: 1 };
    const counts = { success_count: 0, errored_count: 0, retried_count: 0 };
    const uri = await stubEngine(
      demoEngine({ status: 200, json: { status: "CREATED", run_id: runId } }, (req) => {
        if (req.url?.includes("/runs/"))
          return { status: 200, json: { total: 1, runs: [{ ...pending, ...counts }] } };
        if (req.url?.endsWith("/nodes/")) {
          const node = { name: "DataSplitterNode", transport: "pull", runtime_name: "gpu-box" };
          return { status: 200, json: { nodes: [node] } };
        }
        return { status: 404, json: { detail: "Not Found" } };
      }),
    );
    const { code, stderr } = await run("scripts/demo.mjs", ["--uri", uri, "--stall-timeout", "1"]);
    expect(code).toBe(1);
    expect(lines(stderr)).toEqual([
      `demo: no progress for 1 s: run ${runId} has 1 pending state(s) and seems to be waiting on data_splitter ` +
        '(DataSplitterNode); DataSplitterNode is registered to pull runtime "gpu-box", which must be running and ' +
        "polling (`npm run runtime:pull`), or give it longer with --stall-timeout",
    ]);
  });
});

describe.concurrent("the demo at a million items", CHILD_PROCESSES, () => {
  it("sends the whole range, shows its progress, and reads the merger without listing the run", async () => {
    const runId = "12345678-9abc-4def-8123-456789abcdef";
    const n = 1_000_000;
    const seen = { data: "", paths: [] };
    let polls = 0;
    const created = (body) => {
      seen.data = JSON.parse(body).inputs.data;
      return { status: 200, json: { status: "CREATED", run_id: runId } };
    };
    const uri = await stubEngine(
      demoEngine(created, (req) => {
        seen.paths.push(req.url);
        if (req.url?.includes("/runs/")) {
          polls += 1;
          // First the splitter's n states and half the branches, then everything.
          const done = polls === 1 ? n + n / 2 : 2 * n + 1;
          const row = {
            run_id: runId,
            errored_count: 0,
            retried_count: 0,
            total_count: polls === 1 ? 2 * n : 2 * n + 1,
          };
          const status = polls === 1 ? "PENDING" : "SUCCESS";
          const pending = row.total_count - done;
          return {
            status: 200,
            json: { total: 1, runs: [{ ...row, success_count: done, pending_count: pending, status }] },
          };
        }
        if (req.url?.includes("/node/")) {
          const merger = { identifier: "merger", status: "SUCCESS", outputs: { merged: "500000500000" } };
          return { status: 200, json: merger };
        }
        return { status: 404, json: { detail: "Not Found" } };
      }),
    );
    const { code, stdout, stderr } = await run("scripts/demo.mjs", ["--uri", uri, "--items", String(n)]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(seen.data.length).toBe(6_888_897);
    expect(seen.data.startsWith("[1,2,3,")).toBe(true);
    expect(seen.data.includes(",99999,100000,100001,")).toBe(true);
    expect(seen.data.endsWith(",999999,1000000]")).toBe(true);
    expect(stdout).toContain(`[${"#".repeat(20)}${".".repeat(20)}] 500000/1000000 branches done`);
    expect(stdout).toContain(`[${"#".repeat(40)}] 1000000/1000000 branches done`);
    expect(stdout).toContain("merged: 500000500000 (expected 500000500000)");
    // The merger is the run's last state: its id comes from the run id and the state count.
    expect(seen.paths.filter((p) => p.includes("/node/"))).toEqual([
      `/v0/namespace/examples/graph/seed_split_process_merge/run/${runId}/node/123456789abc4def001e8481`,
    ]);
    expect(seen.paths.some((p) => p.includes("/states/run/"))).toBe(false);
  });
});

describe.concurrent("the demo on a run with branch shards", CHILD_PROCESSES, () => {
  it("finds the merger by one page of the merger's states when it is not the run's last seq", async () => {
    const runId = "12345678-9abc-4def-8123-456789abcdef";
    const mergerId = "123456789abc4def00000fa1";
    const paths = [];
    const uri = await stubEngine(
      demoEngine({ status: 200, json: { status: "CREATED", run_id: runId } }, (req) => {
        paths.push(req.url);
        if (req.url?.includes("/runs/")) {
          const row = {
            run_id: runId,
            success_count: 21,
            pending_count: 0,
            errored_count: 0,
            retried_count: 0,
          };
          return { status: 200, json: { total: 1, runs: [{ ...row, total_count: 21, status: "SUCCESS" }] } };
        }
        if (req.url?.endsWith(`/node/${mergerId}`)) {
          return {
            status: 200,
            json: { identifier: "merger", status: "SUCCESS", outputs: { merged: "55" } },
          };
        }
        if (req.url?.includes("/graph?")) {
          return {
            status: 200,
            json: { nodes: [{ id: mergerId, identifier: "merger", status: "SUCCESS" }] },
          };
        }
        return { status: 404, json: { detail: "Node not found" } };
      }),
    );
    const { code, stdout, stderr } = await run("scripts/demo.mjs", ["--uri", uri, "--items", "10"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("merged: 55 (expected 55)");
    expect(paths.filter((p) => p.includes("/states/run/"))).toEqual([
      `/v0/namespace/examples/states/run/${runId}/graph?identifier=merger&limit=1`,
    ]);
  });
});

describe.concurrent("stack traces of bundled sources", CHILD_PROCESSES, () => {
  it("name the project's TypeScript files, not the temporary bundle", async () => {
    const script = `
      import { loadTs } from "./scripts/lib/load-ts.mjs";
      const { StateManager } = await loadTs("src/client/index.ts");
      try { new StateManager({ namespace: "x" }); } catch (e) { console.log(e.stack); }
    `;
    const { code, stdout } = await run(script, [], { eval: true });
    expect(code).toBe(0);
    expect(stdout).toContain("State manager URI is not set");
    expect(stdout).toMatch(/at new Connection \(.*src\/client\/http\.ts:\d+:\d+\)/);
    expect(stdout).toMatch(/at new StateManager \(.*src\/client\/state-manager\.ts:\d+:\d+\)/);
    expect(stdout).not.toContain("module.mjs");
  });
});
