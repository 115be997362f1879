// Runtime Workers deployed on their own (design §6): the engine runs no user code; each runtime consumes
// its own queue and talks to the engine through the RuntimeEntrypoint (service binding) or the same
// interface over HTTPS with the API key. The example and test runtimes run as Workers of their own beside
// the engine (vitest.config.ts).
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { createRuntime, httpEngine } from "exoflare";
import { describe, expect, it } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { exampleNodes } from "../../examples/runtime/src/nodes";
import { readRunMeta } from "../../src/actors/run-meta";
import type { DispatchMessage } from "../../src/contracts/dispatch";
import { runKeyOfRunId } from "../../src/engine/ids";
import {
  call,
  fresh,
  freshNamespace,
  KEY,
  runRow,
  runStub,
  settled,
  stateRows,
  triggerRun,
  upsertValid,
} from "./helpers/http";

interface Row {
  seq: number;
  status: string;
  error: string | null;
  node_name: string;
}

/** One node that echoes its input, registered by a runtime for `queue`, and a one-node graph of it. */
const echoGraph = (ns: string) => ({
  secrets: {},
  retry_policy: { max_retries: 0 },
  nodes: [
    {
      node_name: "DataProcessorNode",
      namespace: ns,
      identifier: "processor",
      inputs: { data: "[1,2,3]" },
      next_nodes: [],
    },
  ],
});

const viaBinding = (ns: string, queue: string) =>
  createRuntime({
    namespace: ns,
    name: `rt-${queue}`,
    queue,
    nodes: exampleNodes(),
    engine: () => exports.RuntimeEntrypoint,
  });

describe("runtime Workers", () => {
  it("runs the seed graph through the example runtime Worker, and the run's snapshot names its queue", async () => {
    const graph = fresh("own-worker");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    const runId = await triggerRun("examples", graph, { inputs: { data: "[1,2,3,4]", chunk_size: "1" } });
    expect(await settled("examples", runId)).toMatchObject({ status: "SUCCESS", success_count: 9 });
    const nodeInfo = await runInDurableObject(
      runStub(runId),
      async (_a, state) => readRunMeta(state.storage.sql)?.template.node_info,
    );
    expect(nodeInfo?.["examples/DataSplitterNode"]).toMatchObject({
      transport: "queue",
      queue: "EXAMPLES_QUEUE",
    });
    expect(nodeInfo?.["examples/ResultMergerNode"]).toMatchObject({
      transport: "queue",
      queue: "EXAMPLES_QUEUE",
    });
  });

  it("ends the states of a runtime that registered, then disappeared, by their lease, through the retry policy", async () => {
    const ns = freshNamespace();
    // Registered for GONE_QUEUE, which no Worker consumes: the runtime is gone.
    await viaBinding(ns, "GONE_QUEUE").register(env);
    const graph = fresh("gone");
    await upsertValid(ns, graph, echoGraph(ns));
    const runId = await triggerRun(ns, graph);
    const stub = runStub(runId);
    // Sent to the runtime's queue and leased; nobody reports.
    expect((await stateRows<Row>(runId)).map((r) => r.status)).toEqual(["QUEUED"]);
    const expired = await runInDurableObject(stub, (instance) =>
      instance.expireLeases(Date.now() + 31 * 60_000),
    );
    expect(expired).toBe(1);
    expect(await stateRows<Row>(runId)).toMatchObject([{ status: "ERRORED", error: "lease expired" }]);
    expect(await runRow(ns, runId)).toMatchObject({ status: "FAILED", errored_count: 1, pending_count: 0 });
  });

  it("refuses a trigger whose push node names a queue the engine no longer has, instead of starting a run that waits", async () => {
    const ns = freshNamespace();
    await viaBinding(ns, "TEST_QUEUE").register(env);
    const graph = fresh("lost-queue");
    await upsertValid(ns, graph, echoGraph(ns));
    // As if the engine had been deployed since without that binding (or the row predates named queues).
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_a, state) => {
      state.storage.sql.exec("UPDATE registered_nodes SET queue = NULL");
    });
    const res = await call("POST", `/v0/namespace/${ns}/graph/${graph}/trigger`, {});
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(
      /DataProcessorNode .* is registered for no queue, which the engine does not have: register its runtime again/,
    );
    const runs = (await (await call("GET", `/v0/namespace/${ns}/runs/1/10`)).json()) as { total: number };
    expect(runs.total).toBe(0);
  });

  it("serves the same interface over HTTPS with the API key: register, read inputs, report", async () => {
    const ns = freshNamespace();
    const engine = httpEngine({ url: "http://engine", apiKey: KEY, fetch: (r) => exports.default.fetch(r) });
    const runtime = createRuntime({
      namespace: ns,
      name: "remote",
      queue: "GONE_QUEUE",
      nodes: exampleNodes(),
      engine: () => engine,
    });
    expect(await runtime.register({})).toMatchObject({ runtime_name: "remote", queue: "GONE_QUEUE" });
    const graph = fresh("https");
    await upsertValid(ns, graph, echoGraph(ns));
    const runId = await triggerRun(ns, graph);
    const runKey = runKeyOfRunId(runId) ?? "";
    const [state] = await stateRows<Row>(runId);
    expect(state?.status).toBe("QUEUED");
    // What the engine sent to the runtime's queue, delivered to the runtime (inputs by reference, so the
    // runtime reads them from the run over HTTPS too).
    const body: DispatchMessage = {
      v: 1,
      run: runKey,
      states: [
        {
          id: `${runKey}${(state?.seq ?? 0).toString(16).padStart(8, "0")}`,
          node: "DataProcessorNode",
          ns,
          identifier: "processor",
        },
      ],
    };
    const batch = createMessageBatch<DispatchMessage>("exoflare-gone", [
      { id: "m1", timestamp: new Date(), attempts: 1, body },
    ]);
    const ctx = createExecutionContext();
    await runtime.queue(batch, {});
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(await stateRows<Row>(runId)).toMatchObject([{ status: "SUCCESS" }]);
    expect(await runRow(ns, runId)).toMatchObject({ status: "SUCCESS", success_count: 1 });
    // A duplicate report over HTTPS changes nothing.
    expect(await engine.report(runKey, [{ type: "errored", seq: state?.seq ?? 0, error: "late" }])).toEqual([
      { applied: false, reason: "not_queued", status: "SUCCESS" },
    ]);
  });

  it("registers a runtime Worker's nodes on POST /register, and answers nothing else", async () => {
    const registered = await env.EXAMPLES_RUNTIME.fetch("http://runtime/register", { method: "POST" });
    expect(registered.status).toBe(200);
    expect(await registered.json()).toEqual({
      runtime_name: "example-runtime",
      queue: "EXAMPLES_QUEUE",
      registered: ["DataSplitterNode", "DataProcessorNode", "ResultMergerNode"],
    });
    expect((await env.EXAMPLES_RUNTIME.fetch("http://runtime/register")).status).toBe(405);
    expect((await env.EXAMPLES_RUNTIME.fetch("http://runtime/", { method: "POST" })).status).toBe(404);
  });

  it("answers the runtime routes only with the key, and refuses malformed calls with 4xx", async () => {
    const noKey = await exports.default.fetch(
      new Request("http://x/v0/runtime/inputsOf", {
        method: "POST",
        body: JSON.stringify({ args: ["a".repeat(16), [1]] }),
      }),
    );
    expect(noKey.status).toBe(401);
    const cases: [string, unknown, number][] = [
      ["inputsOf", { args: ["not-an-actor", [1]] }, 422],
      ["inputsOf", { args: ["ab".repeat(8), [-1]] }, 422],
      ["report", { args: ["ab".repeat(8), [{ type: "exploded", seq: 1 }]] }, 422],
      ["registerNodes", { args: [{ namespace: "x", runtimeName: "r", queue: "Q", nodes: "no" }] }, 422],
      ["noSuchMethod", { args: [] }, 404],
    ];
    for (const [method, body, status] of cases) {
      const res = await call("POST", `/v0/runtime/${method}`, body);
      expect(res.status, method).toBe(status);
      expect(await res.json()).toHaveProperty("detail");
    }
  });
});
