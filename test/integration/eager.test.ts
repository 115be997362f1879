// Eager execution (design §6): the answer to a push consumer's report hands back ready states of the nodes
// it serves, leased to it, so a run's next hop needs no queue message. A consumer that dies holding them
// costs no attempt: their short lease ends and they go through the queue.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { RunActor } from "../../src/actors/run-actor";
import { configOf } from "../../src/config";
import { fresh, json, runRow, runStub, settled, stateRows, triggerRun, upsertValid } from "./helpers/http";
import { ctlNode, TEST_NAMESPACE as NS } from "./runtime/test-nodes";

interface Row {
  seq: number;
  identifier: string;
  status: string;
  delivery: number | null;
  lease_expires: number | null;
}

/** a → b → c, one state each: every hop after the first can run in the consumer that ran the one before. */
const chain = {
  nodes: [
    ctlNode("a", "SignalNode", { value: "x" }, { next_nodes: ["b"] }),
    ctlNode("b", "SignalNode", { value: "${{ a.outputs.value }}" }, { next_nodes: ["c"] }),
    ctlNode("c", "SignalNode", { value: "${{ b.outputs.value }}" }),
  ],
  retry_policy: { max_retries: 0 },
};

/**
 * A run of the chain whose root the test runs by hand, as a consumer serving only `serves` would: the
 * root is claimed (not due for a minute, so the queue never gets it), then reported with an eager ask.
 */
async function reportRootByHand(prefix: string, serves: string) {
  const graph = fresh(prefix);
  await upsertValid(NS, graph, chain);
  const runId = await triggerRun(NS, graph, { inputs: {}, start_delay: 60_000 });
  const stub = runStub(runId);
  await runInDurableObject(stub, (_, state) => {
    state.storage.sql.exec("UPDATE states SET status = 'QUEUED', enqueue_after = 0 WHERE seq = 1");
    state.storage.sql.exec("UPDATE counts SET status = 'QUEUED' WHERE status = 'CREATED'");
  });
  const answer = await stub.reportAndTake([{ type: "executed", seq: 1, outputs: [{ value: "x" }] }], {
    nodes: [{ ns: NS, node: serves }],
    max: 8,
  });
  return { runId, stub, answer };
}

const costsOf = async (runId: string) =>
  (await json<Record<string, number>>("GET", `/v0/namespace/${NS}/states/run/${runId}/costs`)).body;

describe("eager execution", () => {
  it("runs a chain in the consumer that reported its first state: one queue message for three hops", async () => {
    const graph = fresh("eager");
    await upsertValid(NS, graph, chain);
    const runId = await triggerRun(NS, graph);
    expect(await settled(NS, runId)).toMatchObject({ status: "SUCCESS", success_count: 3, retried_count: 0 });
    const costs = await costsOf(runId);
    // Only the root went through the queue; b and c came back in the answers to a's and b's reports.
    expect(costs.queueMessages).toBe(1);
    expect(costs.reportRpcs).toBe(3);
    // Each eager state was tagged as an eager delivery of the run actor's instance.
    const rows = await stateRows<Row>(runId);
    expect(rows.map((r) => Math.sign(r.delivery ?? 0))).toEqual([1, -1, -1]);
  });

  it("hands out nothing when turned off: every hop goes through the queue", async () => {
    const graph = fresh("eager-off");
    await upsertValid(NS, graph, chain);
    const runId = await triggerRun(NS, graph, { inputs: {}, start_delay: 60_000 });
    const stub = runStub(runId);
    await runInDurableObject(stub, (instance) => {
      const env = (instance as unknown as { env: object }).env;
      configOf(env).eager = false;
    });
    try {
      await runInDurableObject(stub, async (instance, state) => {
        state.storage.sql.exec("UPDATE states SET enqueue_after = 0 WHERE seq = 1");
        await instance.alarm();
      });
      expect(await settled(NS, runId)).toMatchObject({ status: "SUCCESS", success_count: 3 });
      expect((await costsOf(runId)).queueMessages).toBe(3);
    } finally {
      await runInDurableObject(stub, (instance) => {
        configOf((instance as unknown as { env: object }).env).eager = true;
      });
    }
  });

  it("sends a state through the queue, with no attempt spent, when the consumer holding it stops confirming it", async () => {
    // A consumer that serves only SignalNode reports `a` and takes `b` eagerly...
    const { runId, stub, answer } = await reportRootByHand("eager-lost", "SignalNode");
    expect(answer.outcomes).toMatchObject([{ applied: true }]);
    expect(answer.eager).toHaveLength(1);
    const [b] = answer.eager;
    expect(b).toMatchObject({ node: "SignalNode", identifier: "b", inputs: { value: "x" } });
    expect(b?.d).toBeLessThan(0);
    // ...confirms it (a pickup renews an eager lease: here one about to end)...
    const seqB = (await stateRows<Row>(runId))[1]?.seq ?? 0;
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE states SET lease_expires = 1 WHERE seq = ?", seqB);
    });
    expect(await stub.pickup([{ seq: seqB, d: b?.d as number }])).toEqual([seqB]);
    expect((await stateRows<Row>(runId))[1]?.lease_expires).toBeGreaterThan(Date.now());
    // ...and dies. Its lease ends: `b` is not errored but handed to the queue, and the run goes on.
    const lapsed = await runInDurableObject(stub, (instance) =>
      (instance as unknown as RunActor).expireLeases(Date.now() + 60_000),
    );
    expect(lapsed).toBe(1);
    await vi.waitUntil(async () => (await runRow(NS, runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    expect(await runRow(NS, runId)).toMatchObject({ success_count: 3, retried_count: 0, errored_count: 0 });
    // The old eager delivery is refused: it was sent again through the queue since.
    expect(await stub.pickup([{ seq: seqB, d: b?.d as number }])).toEqual([]);
  });

  it("hands back only the nodes the consumer serves", async () => {
    const { runId, answer } = await reportRootByHand("eager-other", "FailNode");
    expect(answer.eager).toEqual([]);
    expect(await settled(NS, runId)).toMatchObject({ status: "SUCCESS", success_count: 3 });
  });
});
