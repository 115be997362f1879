// The TypeScript pull runtime and StateManager client against the Worker (their fetch is injected to
// call the Worker's handler directly): the seed's example end to end over the pull protocol, a graph
// that mixes pull and push nodes, and a clean stop.
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import { exampleNodes } from "../../examples/runtime/src/nodes";
import { type GraphNodeModel, PullRuntime, type PullRuntimeLogger, StateManager } from "../../src/client";
import { readyQueueName } from "../../src/dispatch/ready-refs";
import { MAX_PULL_WAIT_MS } from "../../src/engine/limits";
import { BaseNode } from "../../src/sdk/base-node";
import { fresh, json, KEY, runRow, settled } from "./helpers/http";
import { enqueue, stateDetails, statesOf } from "./helpers/pull";
import { TEST_NAMESPACE } from "./runtime/test-nodes";

/** The seed's split → process → merge graph with its nodes moved to `ns`. */
const exampleGraphIn = (ns: string): GraphNodeModel[] =>
  splitProcessMergeGraph.nodes.map((n) => ({ ...n, namespace: ns }) as GraphNodeModel);

const workerFetch = (request: Request) => exports.default.fetch(request);
const connection = { uri: "http://exoflare.test", key: KEY, fetch: workerFetch };

/** Collects what a runtime logs, so a test can assert that nothing went wrong. */
function recorder(): PullRuntimeLogger & { problems: string[] } {
  const problems: string[] = [];
  return {
    problems,
    info: () => {},
    warn: (m) => problems.push(m),
    error: (m) => problems.push(m),
  };
}

/** A node named `name` whose `{v}` output echoes its input, after `before` (counting, gating) ran. */
function echoNode(name: string, before: () => Promise<void> | void = () => {}) {
  const Io = z.object({ v: z.string() });
  class EchoNode extends BaseNode<typeof Io, typeof Io> {
    static override readonly nodeName = name;
    readonly inputs = Io;
    readonly outputs = Io;
    async execute(inputs: z.infer<typeof Io>) {
      await before();
      return inputs;
    }
  }
  return new EchoNode();
}

const running: PullRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

function startRuntime(opts: ConstructorParameters<typeof PullRuntime>[0]) {
  const runtime = new PullRuntime(opts);
  running.push(runtime);
  return runtime;
}

describe("the TypeScript pull runtime", () => {
  it("runs the seed's split → process → merge example end to end", async () => {
    const ns = fresh("pullex");
    const log = recorder();
    const runtime = startRuntime({
      ...connection,
      namespace: ns,
      name: "ts-pull",
      nodes: exampleNodes(),
      pollIntervalMs: 5,
      batchSize: 8,
      workers: 3,
      logger: log,
    });
    await runtime.start();

    const client = new StateManager({ ...connection, namespace: ns });
    const nodes = exampleGraphIn(ns);
    const graph = await client.upsertGraph("split-merge", nodes, { pollIntervalMs: 5 });
    expect(graph.validation_status).toBe("VALID");
    const items = Array.from({ length: 20 }, (_, i) => i + 1);
    const { run_id: runId } = await client.trigger("split-merge", {
      inputs: { data: JSON.stringify(items), chunk_size: "3" },
    });

    const row = await settled(ns, runId);
    // 7 chunks: 7 splitter states (head + clones), 7 processors, one merger.
    expect(row).toMatchObject({ status: "SUCCESS", success_count: 15, errored_count: 0, total_count: 15 });
    const merger = (await statesOf(ns, runId)).filter((s) => s.identifier === "merger");
    expect(merger).toHaveLength(1);
    expect((await stateDetails(ns, "split-merge", runId, merger[0]?.id ?? "")).outputs).toEqual({
      merged: "210",
    });
    expect((await client.runs(1, 10)).runs.map((r) => r.run_id)).toEqual([runId]);
    expect(log.problems).toEqual([]);
  });

  it("reports a node's error through the retry policy", async () => {
    const ns = fresh("pullerr");
    const runtime = startRuntime({
      ...connection,
      namespace: ns,
      name: "ts-pull",
      nodes: exampleNodes(),
      pollIntervalMs: 5,
      logger: recorder(),
    });
    await runtime.start();
    const client = new StateManager({ ...connection, namespace: ns });
    await client.upsertGraph("bad", exampleGraphIn(ns), { retryPolicy: { max_retries: 0 } });
    // The client waits for the run's end in the trigger itself (our wait_ms): FAILED, and already listed so.
    const answer = await client.trigger("bad", {
      inputs: { data: "not json", chunk_size: "1" },
      waitMs: 15_000,
    });
    expect(answer.run_status).toBe("FAILED");
    expect(await runRow(ns, answer.run_id)).toMatchObject({
      status: "FAILED",
      errored_count: 1,
      total_count: 1,
    });
  });

  it("hands claimed but unstarted states back on stop, after reporting the one in flight", async () => {
    const ns = fresh("pullstop");
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const node = echoNode("GateNode", async () => {
      started += 1;
      await gate;
    });
    const opts = { ...connection, namespace: ns, name: "gate", nodes: [node], logger: recorder() };
    // Registered (as pull) so the graph validates; nothing polls until the runtime below starts.
    await new PullRuntime(opts).register();
    const client = new StateManager({ ...connection, namespace: ns });
    await client.upsertGraph("g", [
      { node_name: "GateNode", namespace: ns, identifier: "gate", inputs: { v: "x" } },
    ]);
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) runIds.push((await client.trigger("g")).run_id);

    const runtime = startRuntime({ ...opts, workers: 1, batchSize: 4, pollIntervalMs: 5 });
    await runtime.start();
    await vi.waitUntil(() => started === 1);
    // All three were claimed by the first poll: one runs, two wait in the runtime's queue.
    const statuses = async () =>
      (await Promise.all(runIds.map((id) => statesOf(ns, id)))).map((s) => s[0]?.status);
    expect(await statuses()).toEqual(["QUEUED", "QUEUED", "QUEUED"]);

    const stopped = runtime.stop();
    release();
    await stopped;
    expect(started).toBe(1);
    const after = await statuses();
    expect(after.filter((s) => s === "SUCCESS")).toHaveLength(1);
    expect(after.filter((s) => s === "CREATED")).toHaveLength(2);
    // Handed back without spending a retry: another poller can take them (once their 1 ms has passed).
    let again: string[] = [];
    await vi.waitUntil(async () => {
      again = again.concat((await enqueue(ns, ["GateNode"], 10)).map((s) => s.state_id));
      return again.length === 2;
    });
    expect(new Set(again).size).toBe(2);
  });
});

describe("the TypeScript pull runtime and long polling", () => {
  it("stops while its poll waits: what the poll then claims is handed back, not stranded", async () => {
    const ns = fresh("pullwait");
    let started = 0;
    const node = echoNode("IdleNode", () => {
      started += 1;
    });
    const opts = { ...connection, namespace: ns, name: "idle", nodes: [node], logger: recorder() };
    // A long wait, so that the poll the test sees waiting is still open when the state is offered.
    const runtime = startRuntime({
      ...opts,
      workers: 1,
      batchSize: 4,
      pollIntervalMs: 5,
      pollWaitMs: 15_000,
    });
    await runtime.start();
    const client = new StateManager({ ...connection, namespace: ns });
    await client.upsertGraph("g", [
      { node_name: "IdleNode", namespace: ns, identifier: "idle", inputs: { v: "x" } },
    ]);
    // Nothing is ready: the runtime's poll is held open by the engine.
    const queue = env.READY_QUEUE.getByName(readyQueueName(ns, "IdleNode"));
    await vi.waitUntil(async () => (await queue.waiting()) === 1);
    const stopped = runtime.stop();
    const { run_id: runId } = await client.trigger("g");
    await stopped;
    expect(started).toBe(0);
    // Not left QUEUED under a lease nobody will report: back to CREATED, no retry spent, and taken by
    // the next poller.
    let again: string[] = [];
    await vi.waitUntil(async () => {
      again = again.concat((await enqueue(ns, ["IdleNode"], 10)).map((s) => s.state_id));
      return again.length === 1;
    });
    expect(again).toEqual((await statesOf(ns, runId)).map((s) => s.id));
    expect(await runRow(ns, runId)).toMatchObject({ retried_count: 0, total_count: 1 });
    // Claimed twice: by the runtime's waiting poll (then handed back), and by the poll above.
    const costs = await json<{ claimRpcs: number }>("GET", `/v0/namespace/${ns}/states/run/${runId}/costs`);
    expect(costs.body.claimRpcs).toBe(2);
  });
});

describe("the TypeScript pull runtime's poll wait", () => {
  it("asks for pollWaitMs as the poll's wait_ms, and refuses one out of range", async () => {
    const bodies: unknown[] = [];
    const recording = async (request: Request) => {
      if (request.url.endsWith("/states/enqueue")) bodies.push(await request.clone().json());
      return workerFetch(request);
    };
    const opts = {
      ...connection,
      fetch: recording,
      namespace: fresh("pullwaitms"),
      name: "w",
      nodes: [echoNode("WaitNode")],
      logger: recorder(),
    };
    for (const pollWaitMs of [-1, 1.5, MAX_PULL_WAIT_MS + 1]) {
      expect(() => new PullRuntime({ ...opts, pollWaitMs })).toThrow(/pollWaitMs/);
    }
    const runtime = startRuntime({ ...opts, pollIntervalMs: 5, pollWaitMs: 0 });
    await runtime.start();
    await vi.waitUntil(() => bodies.length >= 2);
    expect(bodies[0]).toEqual({ nodes: ["WaitNode"], batch_size: 16, wait_ms: 0 });
  });
});

describe("a graph mixing pull and push nodes", () => {
  it("runs push → pull → push end to end", async () => {
    const ns = fresh("mix");
    const Io = z.object({ value: z.string() });
    class ShoutNode extends BaseNode<typeof Io, typeof Io> {
      static override readonly nodeName = "ShoutNode";
      readonly inputs = Io;
      readonly outputs = Io;
      execute({ value }: z.infer<typeof Io>) {
        return { value: value.toUpperCase() };
      }
    }
    const log = recorder();
    const runtime = startRuntime({
      ...connection,
      namespace: ns,
      name: "mix-pull",
      nodes: [new ShoutNode()],
      pollIntervalMs: 5,
      logger: log,
    });
    await runtime.start();
    const client = new StateManager({ ...connection, namespace: ns });
    // ListNode and SignalNode are push nodes of the test Worker's runtime, in namespace "ctl".
    await client.upsertGraph("mixed", [
      {
        node_name: "ListNode",
        namespace: TEST_NAMESPACE,
        identifier: "list",
        inputs: { items: "[]" },
        next_nodes: ["shout"],
      },
      {
        node_name: "ShoutNode",
        namespace: ns,
        identifier: "shout",
        inputs: { value: "${{ list.outputs.value }}" },
        next_nodes: ["echo"],
      },
      {
        node_name: "SignalNode",
        namespace: TEST_NAMESPACE,
        identifier: "echo",
        inputs: { value: "${{ shout.outputs.value }}" },
      },
    ]);
    const { run_id: runId } = await client.trigger("mixed", {
      inputs: { items: JSON.stringify(["a", "b", "c"]) },
    });

    const row = await settled(ns, runId);
    expect(row).toMatchObject({ status: "SUCCESS", success_count: 9, total_count: 9 });
    // Push states live in "ctl", pull states in this namespace; the echo outputs went through both.
    const echoes = (await statesOf(TEST_NAMESPACE, runId)).filter((s) => s.identifier === "echo");
    const values = await Promise.all(
      echoes.map(async (s) => (await stateDetails(TEST_NAMESPACE, "mixed", runId, s.id)).outputs.value),
    );
    expect(values.sort()).toEqual(["A", "B", "C"]);
    expect((await statesOf(ns, runId)).map((s) => s.identifier)).toEqual(["shout", "shout", "shout"]);
    expect(log.problems).toEqual([]);
  });
});

describe("StateManager", () => {
  it("throws Exosphere's message when validation ends INVALID", async () => {
    const ns = fresh("smx");
    const client = new StateManager({ ...connection, namespace: ns });
    await expect(
      client.upsertGraph("g", [{ node_name: "Missing", namespace: ns, identifier: "m", inputs: {} }]),
    ).rejects.toThrow(/^Graph validation failed: INVALID and errors: .*Missing/);
    await expect(client.trigger("nope")).rejects.toThrow(/^Failed to trigger state: 404 /);
  });
});
