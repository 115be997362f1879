// The runtime's side of the runtime interface, in Node: the consumer reports to each actor through the
// engine's interface (never an actor stub), the HTTPS client speaks the routes' shape, and a refused
// registration is an error that says why.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { exampleNodes } from "../../examples/runtime/src/nodes";
import type { EngineRpc, Report, ReportOutcome } from "../../src/contracts";
import { ENGINE_RPC_METHODS, RUN_CALLS } from "../../src/contracts/engine-rpc";
import {
  BaseNode,
  createRuntime,
  EngineCallError,
  httpEngine,
  RegistrationRefusedError,
  runActorVia,
} from "../../src/sdk";

/** An engine that records every call and answers as a run actor whose states are all QUEUED would. */
function recordingEngine(failFor: string[] = []) {
  const calls: { method: string; args: unknown[] }[] = [];
  const applied = (reports: Report[]) =>
    reports.map((): ReportOutcome => ({ applied: true, status: "SUCCESS", enqueueAfter: 0 }));
  const engine: EngineRpc = {
    async pickup(actor, deliveries) {
      calls.push({ method: "pickup", args: [actor, deliveries] });
      return deliveries.map((x) => x.seq);
    },
    async report(actor, reports: Report[]) {
      calls.push({ method: "report", args: [actor, reports] });
      if (failFor.includes(actor)) throw new Error("engine unreachable");
      return applied(reports);
    },
    // Hands nothing back to run eagerly.
    async reportAndTake(actor, reports: Report[], ask) {
      calls.push({ method: "reportAndTake", args: [actor, reports, ask] });
      if (failFor.includes(actor)) throw new Error("engine unreachable");
      return { outcomes: applied(reports), eager: [] };
    },
    async nodesSeen(namespace, names) {
      calls.push({ method: "nodesSeen", args: [namespace, names] });
    },
    async inputsOf(actor, seqs) {
      calls.push({ method: "inputsOf", args: [actor, seqs] });
      return Object.fromEntries(seqs.map((s) => [s, { data: "[5,6]" }]));
    },
    async secretsOf(actor, seqs) {
      calls.push({ method: "secretsOf", args: [actor, seqs] });
      return {};
    },
    async registerNodes(registration) {
      calls.push({ method: "registerNodes", args: [registration] });
      return registration.queue === "NOPE"
        ? { ok: false, error: { kind: "invalid", detail: "The engine has no queue binding named 'NOPE'" } }
        : {
            ok: true,
            value: { runtime_name: registration.runtimeName, queue: registration.queue, registered: [] },
          };
    },
  };
  return { engine, calls };
}

/** A queue batch as workerd hands it to `queue()`, recording acks and retries. */
function batchOf(bodies: unknown[]) {
  const settled: Record<string, "ack" | "retry"> = {};
  const messages = bodies.map((body, i) => ({
    id: `m${i}`,
    timestamp: new Date(),
    attempts: 1,
    body,
    ack: () => {
      settled[`m${i}`] = "ack";
    },
    retry: () => {
      settled[`m${i}`] = "retry";
    },
  }));
  const batch = { queue: "q", messages, ackAll() {}, retryAll() {} } as unknown as MessageBatch<unknown>;
  return { batch, settled };
}

const runtimeOn = (engine: EngineRpc, queue = "EXAMPLES_QUEUE") =>
  createRuntime({
    namespace: "examples",
    name: "examples",
    queue,
    nodes: exampleNodes(),
    engine: () => engine,
  });

describe("the consumer", () => {
  it("reports each actor's states through the engine's interface, with the actor's name, and acks them", async () => {
    const { engine, calls } = recordingEngine();
    const run = "0123456789abcdef";
    const shard = `${run}:2`;
    const { batch, settled } = batchOf([
      {
        v: 1,
        run,
        states: [
          {
            id: `${run}00000001`,
            node: "DataProcessorNode",
            ns: "examples",
            identifier: "p",
            inputs: { data: "[1,2]" },
          },
        ],
      },
      // Inputs by reference: read from the shard through the engine first.
      {
        v: 1,
        run: shard,
        states: [{ id: `${run}02000001`, node: "DataProcessorNode", ns: "examples", identifier: "p" }],
      },
    ]);
    await runtimeOn(engine).queue(batch, {});
    expect(calls.filter((c) => c.method === "inputsOf")).toEqual([
      { method: "inputsOf", args: [shard, [0x2000001]] },
    ]);
    // Each actor confirms its states at pickup, then gets their reports (asking for eager work).
    expect(calls.filter((c) => c.method === "pickup").map((c) => c.args[0])).toEqual(
      expect.arrayContaining([run, shard]),
    );
    const reports = calls.filter((c) => c.method === "reportAndTake").map((c) => c.args.slice(0, 2));
    expect(reports).toEqual(
      expect.arrayContaining([
        [run, [{ type: "executed", seq: 1, outputs: [{ result: "3" }] }]],
        [shard, [{ type: "executed", seq: 0x2000001, outputs: [{ result: "11" }] }]],
      ]),
    );
    expect(settled).toEqual({ m0: "ack", m1: "ack" });
  });

  it("retries the messages of an actor whose report failed, and acks the others", async () => {
    const run = "0123456789abcdef";
    const other = "fedcba9876543210";
    const { engine } = recordingEngine([other]);
    const state = (r: string) => ({
      id: `${r}00000001`,
      node: "DataProcessorNode",
      ns: "examples",
      identifier: "p",
      inputs: { data: "[1]" },
    });
    const { batch, settled } = batchOf([
      { v: 1, run, states: [state(run)] },
      { v: 1, run: other, states: [state(other)] },
    ]);
    await runtimeOn(engine).queue(batch, {});
    expect(settled).toEqual({ m0: "ack", m1: "retry" });
  });
});

/** Yields `n` outputs, throwing after `failAfter` of them when given: a fan-out that never sits in memory. */
class Counter extends BaseNode<typeof CounterInputs, typeof CounterOutputs> {
  static override nodeName = "Counter";
  override readonly inputs = CounterInputs;
  override readonly outputs = CounterOutputs;
  async *execute({ n, failAfter }: z.infer<typeof CounterInputs>) {
    for (let i = 0; i < Number(n); i++) {
      if (failAfter !== "" && i === Number(failAfter)) throw new Error(`stopped at ${i}`);
      yield { v: String(i) };
    }
  }
}
const CounterInputs = z.object({ n: z.string(), failAfter: z.string() });
const CounterOutputs = z.object({ v: z.string() });

describe("a node that yields its outputs", () => {
  const run = "0123456789abcdef";
  const consume = async (n: number, failAfter = "") => {
    const { engine, calls } = recordingEngine();
    const runtime = createRuntime({
      namespace: "gen",
      name: "gen",
      queue: "Q",
      nodes: [new Counter()],
      engine: () => engine,
    });
    const { batch, settled } = batchOf([
      {
        v: 1,
        run,
        states: [
          {
            id: `${run}00000001`,
            node: "Counter",
            ns: "gen",
            identifier: "c",
            inputs: { n: String(n), failAfter },
          },
        ],
      },
    ]);
    // Pages of two outputs.
    await runtime.queue(batch, { REPORT_PAGE_OUTPUTS: "2" });
    const reports = calls
      .filter((c) => c.method === "report" || c.method === "reportAndTake")
      .map((c) => (c.args[1] as Report[])[0]);
    return { reports, settled };
  };
  const out = (...vs: number[]) => vs.map((v) => ({ v: String(v) }));

  it("reports them a page at a time as they come, the last page with the batch's report", async () => {
    const { reports, settled } = await consume(5);
    expect(reports).toEqual([
      { type: "executed", seq: 1, outputs: out(0, 1), page: { offset: 0, more: true } },
      { type: "executed", seq: 1, outputs: out(2, 3), page: { offset: 2, more: true } },
      { type: "executed", seq: 1, outputs: out(4), page: { offset: 4, more: false } },
    ]);
    expect(settled).toEqual({ m0: "ack" });
  });

  it("reports a generator that fits in one page as one whole report", async () => {
    const { reports } = await consume(2);
    expect(reports).toEqual([{ type: "executed", seq: 1, outputs: out(0, 1) }]);
  });

  it("reports an error when the generator throws after pages went out (the engine ends the execution)", async () => {
    const { reports } = await consume(5, "3");
    expect(reports).toEqual([
      { type: "executed", seq: 1, outputs: out(0, 1), page: { offset: 0, more: true } },
      { type: "errored", seq: 1, error: "stopped at 3" },
    ]);
  });
});

describe("runActorVia", () => {
  it("forwards every run call with the actor's name first", async () => {
    const seen: unknown[][] = [];
    const engine = Object.fromEntries(
      RUN_CALLS.map((m) => [m, async (...args: unknown[]) => seen.push([m, ...args])]),
    ) as unknown as EngineRpc;
    const run = runActorVia(engine, "0123456789abcdef:1");
    await run.report([], "ns");
    await run.inputsOf([1]);
    await run.secretsOf([2], "ns");
    expect(seen).toEqual([
      ["report", "0123456789abcdef:1", [], "ns"],
      ["inputsOf", "0123456789abcdef:1", [1]],
      ["secretsOf", "0123456789abcdef:1", [2], "ns"],
    ]);
  });
});

describe("registration", () => {
  it("answers what the engine registered, and throws the engine's reason when it refused", async () => {
    const { engine, calls } = recordingEngine();
    expect(await runtimeOn(engine).register({})).toEqual({
      runtime_name: "examples",
      queue: "EXAMPLES_QUEUE",
      registered: [],
    });
    expect(calls[0]?.args[0]).toMatchObject({
      namespace: "examples",
      runtimeName: "examples",
      queue: "EXAMPLES_QUEUE",
      nodes: [{ name: "DataSplitterNode" }, { name: "DataProcessorNode" }, { name: "ResultMergerNode" }],
    });
    const refused = runtimeOn(engine, "NOPE").register({});
    await expect(refused).rejects.toBeInstanceOf(RegistrationRefusedError);
    await expect(refused).rejects.toThrow("no queue binding named 'NOPE'");
  });

  it("needs an ENGINE binding when no engine is given", async () => {
    const runtime = createRuntime({
      namespace: "examples",
      name: "examples",
      queue: "Q",
      nodes: exampleNodes(),
    });
    await expect(runtime.register({})).rejects.toThrow(/no ENGINE binding/);
  });
});

describe("httpEngine", () => {
  it("posts each method's arguments with the key, and unwraps the answer", async () => {
    const requests: { url: string; key: string | null; body: unknown }[] = [];
    const engine = httpEngine({
      url: "https://engine.example/",
      apiKey: "k",
      fetch: async (request) => {
        requests.push({
          url: request.url,
          key: request.headers.get("x-api-key"),
          body: await request.json(),
        });
        return Response.json({
          result: request.url.endsWith("/registerNodes") ? { runtime_name: "r" } : [1],
        });
      },
    });
    expect(await engine.report("0123456789abcdef", [])).toEqual([1]);
    expect(await engine.registerNodes({ namespace: "n", runtimeName: "r", queue: "Q", nodes: [] })).toEqual({
      ok: true,
      value: { runtime_name: "r" },
    });
    expect(requests).toEqual([
      { url: "https://engine.example/v0/runtime/report", key: "k", body: { args: ["0123456789abcdef", []] } },
      {
        url: "https://engine.example/v0/runtime/registerNodes",
        key: "k",
        body: { args: [{ namespace: "n", runtimeName: "r", queue: "Q", nodes: [] }] },
      },
    ]);
    expect(Object.keys(engine).sort()).toEqual([...ENGINE_RPC_METHODS].sort());
  });

  it("turns a refused registration into the same answer as the binding's, and any other refusal into an error", async () => {
    const answer = (status: number) => async () =>
      Response.json({ detail: "no queue binding named 'Q'" }, { status });
    expect(
      await httpEngine({ url: "https://e", apiKey: "k", fetch: answer(400) }).registerNodes({
        namespace: "n",
        runtimeName: "r",
        queue: "Q",
        nodes: [],
      }),
    ).toEqual({ ok: false, error: { kind: "invalid", detail: "no queue binding named 'Q'" } });
    const failing = httpEngine({ url: "https://e", apiKey: "bad", fetch: answer(401) });
    await expect(failing.inputsOf("0123456789abcdef", [1])).rejects.toBeInstanceOf(EngineCallError);
    await expect(failing.inputsOf("0123456789abcdef", [1])).rejects.toThrow("engine refused inputsOf (401)");
  });
});
