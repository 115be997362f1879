// `states/enqueue`: the batch bound, the node filter, enqueue_after, no double hand-out to concurrent
// pollers, fairness across nodes; and leases: an unreported claim expires into the retry policy.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { readyQueueName } from "../../src/dispatch/ready-refs";
import { DEFAULT_PULL_WAIT_MS, MAX_ENQUEUE_BATCH, MAX_PULL_WAIT_MS } from "../../src/engine/limits";
import { fresh, json, runRow } from "./helpers/http";
import {
  enqueue,
  node,
  registerPull,
  report,
  runStub,
  stateDetails,
  statesOf,
  trigger,
  upsertValid,
} from "./helpers/pull";

/** A run whose root `Fan` (pull) is executed with `n` outputs, leaving n ready states of each leaf node. */
async function fannedOut(n: number, leaves: string[] = ["A"]) {
  const ns = fresh("enq");
  await registerPull(ns, [
    { name: "Fan", inputs: ["v"], outputs: ["v"] },
    ...leaves.map((name) => ({ name, inputs: ["v"], outputs: ["v"] })),
  ]);
  await upsertValid(ns, "g", {
    nodes: [
      node(
        ns,
        "Fan",
        "fan",
        { v: "x" },
        leaves.map((l) => l.toLowerCase()),
      ),
      ...leaves.map((l) => node(ns, l, l.toLowerCase(), { v: "${{ fan.outputs.v }}" })),
    ],
  });
  const runId = await trigger(ns, "g");
  const [root] = await enqueue(ns, ["Fan"], 1);
  const outputs = Array.from({ length: n }, (_, i) => ({ v: String(i) }));
  expect((await report(ns, root?.state_id ?? "", "executed", { outputs })).status).toBe(200);
  return { ns, runId };
}

const ids = (states: { state_id: string }[]) => states.map((s) => s.state_id);

describe("states/enqueue", () => {
  it(`bounds batch_size at ${MAX_ENQUEUE_BATCH}; zero or negative claims nothing`, async () => {
    const { ns } = await fannedOut(3);
    const tooBig = await json<{ detail: Record<string, unknown>[] }>(
      "POST",
      `/v0/namespace/${ns}/states/enqueue`,
      {
        nodes: ["A"],
        batch_size: MAX_ENQUEUE_BATCH + 1,
      },
    );
    expect(tooBig.status).toBe(422);
    expect(tooBig.body.detail[0]).toMatchObject({
      type: "less_than_equal",
      loc: ["body", "batch_size"],
      ctx: { le: MAX_ENQUEUE_BATCH },
    });
    for (const batch of [0, -5]) {
      const res = await json("POST", `/v0/namespace/${ns}/states/enqueue`, {
        nodes: ["A"],
        batch_size: batch,
      });
      expect(res).toEqual({ status: 200, body: { count: 0, namespace: ns, status: "QUEUED", states: [] } });
    }
    const missing = await json<{ detail: { loc: unknown[] }[] }>(
      "POST",
      `/v0/namespace/${ns}/states/enqueue`,
      {
        batch_size: 1,
      },
    );
    expect(missing.status).toBe(422);
    expect(missing.body.detail[0]?.loc).toEqual(["body", "nodes"]);
    // Nothing was claimed by the refused or empty polls.
    expect(await enqueue(ns, ["A"], MAX_ENQUEUE_BATCH)).toHaveLength(3);
  });

  it("hands out at most batch_size states, each once, with Exosphere's fields", async () => {
    const { ns, runId } = await fannedOut(10);
    const first = await enqueue(ns, ["A"], 4);
    expect(first).toHaveLength(4);
    for (const s of first) {
      expect(s).toEqual({
        state_id: expect.stringMatching(/^[0-9a-f]{24}$/),
        node_name: "A",
        identifier: "a",
        inputs: { v: expect.any(String) },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/),
      });
    }
    const rest = await enqueue(ns, ["A"], 100);
    expect(rest).toHaveLength(6);
    expect(await enqueue(ns, ["A"], 100)).toEqual([]);
    const all = [...first, ...rest];
    expect(new Set(ids(all)).size).toBe(10);
    expect(all.map((s) => s.inputs.v).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
    const queued = (await statesOf(ns, runId)).filter((s) => s.status === "QUEUED").map((s) => s.id);
    expect(queued.sort()).toEqual(ids(all).sort());
  });

  it("hands out only the named nodes' states; unknown names yield nothing", async () => {
    const { ns } = await fannedOut(3, ["A", "B"]);
    expect(await enqueue(ns, ["Nope", "Fan"], 10)).toEqual([]);
    const b = await enqueue(ns, ["B"], 10);
    expect(b.map((s) => s.node_name)).toEqual(["B", "B", "B"]);
    // Another namespace's poller with the same node names gets nothing of this one.
    expect(await enqueue(fresh("other"), ["A", "B"], 10)).toEqual([]);
    expect((await enqueue(ns, ["A", "B", "A"], 10)).map((s) => s.node_name)).toEqual(["A", "A", "A"]);
  });

  it("never hands one state to two concurrent pollers", async () => {
    const { ns } = await fannedOut(40);
    const polls = await Promise.all(Array.from({ length: 6 }, () => enqueue(ns, ["A"], 10)));
    const handed = polls.flatMap(ids);
    expect(handed).toHaveLength(40);
    expect(new Set(handed).size).toBe(40);
  });

  it("splits a batch fairly across nodes and fills it from nodes that have more", async () => {
    const { ns } = await fannedOut(30, ["A", "B"]);
    const count = (states: { node_name: string }[], name: string) =>
      states.filter((s) => s.node_name === name).length;
    // An odd batch over two busy nodes gives each 1 or 2, never 3 to one and 0 to the other.
    const odd = await enqueue(ns, ["A", "B"], 3);
    expect(odd).toHaveLength(3);
    expect([1, 2]).toContain(count(odd, "A"));
    const even = await enqueue(ns, ["A", "B"], 4);
    expect([count(even, "A"), count(even, "B")]).toEqual([2, 2]);
    // Leave B with one ready state while A has many: a batch of 10 takes B's last one and fills up from A.
    const bLeft = 30 - count(odd, "B") - 2;
    expect(await enqueue(ns, ["B"], bLeft - 1)).toHaveLength(bLeft - 1);
    const filled = await enqueue(ns, ["A", "B"], 10);
    expect([count(filled, "A"), count(filled, "B")]).toEqual([9, 1]);
  });

  it("does not hand out a state before its start_delay has passed", async () => {
    const ns = fresh("delay");
    await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
    await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
    const later = await trigger(ns, "g", { start_delay: 3_600_000, inputs: {}, store: {} });
    expect(await enqueue(ns, ["P"], 10)).toEqual([]);
    expect((await statesOf(ns, later)).map((s) => s.status)).toEqual(["CREATED"]);

    const soon = await trigger(ns, "g", { start_delay: 300, inputs: {}, store: {} });
    const triggeredAt = Date.now();
    let pulled: string[] = [];
    await vi.waitUntil(async () => {
      pulled = ids(await enqueue(ns, ["P"], 10));
      return pulled.length > 0;
    });
    expect(Date.now() - triggeredAt).toBeGreaterThanOrEqual(300);
    expect(pulled).toEqual((await statesOf(ns, soon)).map((s) => s.id));
    expect((await statesOf(ns, later)).map((s) => s.status)).toEqual(["CREATED"]);
  });
});

describe("states/enqueue, long polling", () => {
  const queueOf = (ns: string, nodeName: string) => env.READY_QUEUE.getByName(readyQueueName(ns, nodeName));
  const poll = (ns: string, body: Record<string, unknown>) =>
    json<{ states: { state_id: string }[] }>("POST", `/v0/namespace/${ns}/states/enqueue`, body);

  it("a poll that finds nothing waits, and gets a state offered meanwhile at once", async () => {
    const ns = fresh("wait");
    await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
    await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
    const t0 = Date.now();
    const waiting = enqueue(ns, ["P"], 10, 15_000);
    await vi.waitUntil(async () => (await queueOf(ns, "P").waiting()) === 1);
    const runId = await trigger(ns, "g");
    const pulled = await waiting;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(ids(pulled)).toEqual((await statesOf(ns, runId)).map((s) => s.id));
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["QUEUED"]);
  });

  it("two waiting polls never both get one state; the other answers empty at its deadline", async () => {
    const ns = fresh("wait2");
    await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
    await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
    const polls = [enqueue(ns, ["P"], 10, 3_000), enqueue(ns, ["P"], 10, 3_000)];
    await vi.waitUntil(async () => (await queueOf(ns, "P").waiting()) === 2);
    const runId = await trigger(ns, "g");
    const answers = await Promise.all(polls);
    expect(answers.map((a) => a.length).sort()).toEqual([0, 1]);
    expect(answers.flatMap(ids)).toEqual((await statesOf(ns, runId)).map((s) => s.id));
  });

  it("waits PULL_WAIT_MS by default, wait_ms when given, and refuses a wait_ms out of range", async () => {
    const ns = fresh("wait3");
    await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
    let t0 = Date.now();
    expect((await poll(ns, { nodes: ["P"], batch_size: 5 })).body.states).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEFAULT_PULL_WAIT_MS);
    t0 = Date.now();
    expect(await enqueue(ns, ["P"], 5, 200)).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    for (const wait of [-1, MAX_PULL_WAIT_MS + 1, 1.5, "1000"]) {
      const res = await poll(ns, { nodes: ["P"], batch_size: 5, wait_ms: wait });
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).toContain("wait_ms");
    }
  });
});

describe("leases", () => {
  async function claimed(retryPolicy: Record<string, unknown>) {
    const ns = fresh("lease");
    await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
    await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })], retry_policy: retryPolicy });
    const runId = await trigger(ns, "g");
    const [state] = await enqueue(ns, ["P"], 1);
    return { ns, runId, id: state?.state_id ?? "" };
  }

  it("an unreported claim expires into a retry, and the late report changes nothing", async () => {
    const { ns, runId, id } = await claimed({ max_retries: 1, backoff_factor: 1 });
    const run = runStub(runId);
    // Not yet: the default lease is five minutes.
    expect(await run.expireLeases(Date.now())).toBe(0);
    expect(await run.expireLeases(Date.now() + 6 * 60_000)).toBe(1);
    const expired = await stateDetails(ns, "g", runId, id);
    expect(expired).toMatchObject({ status: "RETRY_CREATED", error: "lease expired" });
    const before = await runRow(ns, runId);
    expect(before).toMatchObject({ retried_count: 1, pending_count: 1, total_count: 2 });

    expect(await report(ns, id, "executed", { outputs: [{ v: "late" }] })).toEqual({
      status: 400,
      body: { detail: "State is not queued" },
    });
    expect(await runRow(ns, runId)).toEqual(before);

    // The retry is handed out once its backoff has passed (the run actor's alarm offers it).
    let retry: string[] = [];
    await vi.waitUntil(async () => {
      await runDurableObjectAlarm(run);
      retry = ids(await enqueue(ns, ["P"], 5));
      return retry.length > 0;
    });
    expect(retry).toHaveLength(1);
    expect(retry[0]).not.toBe(id);
    expect((await report(ns, retry[0] ?? "", "executed", { outputs: [] })).status).toBe(200);
    expect(await runRow(ns, runId)).toMatchObject({
      status: "SUCCESS",
      success_count: 1,
      retried_count: 1,
      pending_count: 0,
      total_count: 2,
    });
  });

  it("ends the state ERRORED when no retry is left, and a reported state's lease is gone", async () => {
    const { ns, runId, id } = await claimed({ max_retries: 0 });
    expect(await runStub(runId).expireLeases(Date.now() + 6 * 60_000)).toBe(1);
    expect(await stateDetails(ns, "g", runId, id)).toMatchObject({
      status: "ERRORED",
      error: "lease expired",
    });
    expect(await runRow(ns, runId)).toMatchObject({ status: "FAILED", errored_count: 1, total_count: 1 });

    const reported = await claimed({ max_retries: 0 });
    await report(reported.ns, reported.id, "executed", { outputs: [] });
    expect(await runStub(reported.runId).expireLeases(Date.now() + 6 * 60_000)).toBe(0);
    expect((await runRow(reported.ns, reported.runId))?.status).toBe("SUCCESS");
  });
});
