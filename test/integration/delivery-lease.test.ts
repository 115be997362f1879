// Two leases (design §6): a restart that loses the queue's messages costs no attempt. A new instance of a
// run actor waits one delivery lease for consumers to confirm what earlier instances sent, then sends the
// rest again in its own delivery; a late copy of the old message is refused at pickup.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import type { RunActor } from "../../src/actors/run-actor";
import { FIRST_DELIVERY_EPOCH } from "../../src/actors/run-schema";
import { actorName, runKeyOfRunId } from "../../src/engine/ids";
import {
  dispatchRootThrough,
  endCover,
  fresh,
  json,
  runRow,
  runStub,
  stateRows,
  triggerRun,
  upsertValid,
} from "./helpers/http";

interface Row {
  seq: number;
  status: string;
  delivery: number | null;
  lease_expires: number | null;
}

/** The private clock of the instance's grace period, set back as if it had started long ago. */
type Internals = { openedAt: number };

/** A run whose root is dispatched into a queue that drops every message, as a killed engine's queue does. */
async function rootSentIntoTheVoid(graph: string, rootTimeoutSeconds?: number) {
  const [splitter, ...rest] = splitProcessMergeGraph.nodes;
  const nodes = [
    rootTimeoutSeconds === undefined ? splitter : { ...splitter, timeout_seconds: rootTimeoutSeconds },
    ...rest,
  ];
  // No retry at all: a lease expiry or any lost delivery counted as an attempt would fail the run.
  await upsertValid("examples", graph, {
    ...splitProcessMergeGraph,
    nodes,
    retry_policy: { max_retries: 0 },
  });
  const runId = await triggerRun("examples", graph, {
    inputs: { data: "[1,2,3]", chunk_size: "1" },
    start_delay: 60_000,
  });
  const stub = runStub(runId);
  let sent = 0;
  await dispatchRootThrough(stub, async (batch) => {
    sent += batch.length;
  });
  expect(sent).toBe(1);
  const [root] = await stateRows<Row>(runId);
  expect(root).toMatchObject({ status: "QUEUED" });
  expect(root?.delivery).toBeGreaterThan(0);
  return { runId, stub, delivery: root?.delivery as number };
}

/**
 * The restart: every actor's instance ends (the old queue's messages with it); a stub for the new one. The
 * run was started under the cover of its start record, so the namespace actor's repair of that record is
 * what wakes it (a no-op once the record is gone).
 */
async function restart(runId: string) {
  await abortAllDurableObjects();
  await endCover("examples", runId);
  return runStub(runId);
}

/** Runs the alarm of the restarted instance as if its delivery lease since start had passed. */
async function afterTheDeliveryLease(stub: ReturnType<typeof runStub>) {
  await runInDurableObject(stub, (instance) => {
    (instance as unknown as Internals).openedAt = 0;
  });
  await runDurableObjectAlarm(stub);
}

const costsOf = async (runId: string) =>
  (await json<Record<string, number>>("GET", `/v0/namespace/examples/states/run/${runId}/costs`)).body;

describe("delivery lease", () => {
  it("sends again what a restart lost, in a new delivery, without spending an attempt", async () => {
    const sent = await rootSentIntoTheVoid(fresh("lost"));
    const { runId, delivery } = sent;
    const stub = await restart(runId);
    // A new instance does not send anything again before consumers had a delivery lease to confirm.
    await runDurableObjectAlarm(stub);
    expect((await stateRows<Row>(runId))[0]).toMatchObject({ status: "QUEUED", delivery });
    expect((await costsOf(runId)).redeliveries).toBe(0);
    // And while a delivery is out, the alarm stays armed within one delivery lease (the watchdog that
    // wakes the actor after a restart, whatever its next lease).
    const armed = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(armed).not.toBeNull();
    expect(armed as number).toBeLessThanOrEqual(Date.now() + 10_000);

    await afterTheDeliveryLease(stub);
    await vi.waitUntil(async () => (await runRow("examples", runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    expect(await runRow("examples", runId)).toMatchObject({
      success_count: 7,
      errored_count: 0,
      retried_count: 0,
      total_count: 7,
    });
    expect((await costsOf(runId)).redeliveries).toBe(1);
  });

  it("looks for an earlier instance's deliveries until none is left, then never reads for them again", async () => {
    const { runId } = await rootSentIntoTheVoid(fresh("scan"));
    const stub = await restart(runId);
    await afterTheDeliveryLease(stub);
    await vi.waitUntil(async () => (await runRow("examples", runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    expect((await costsOf(runId)).redeliveries).toBe(1);
    // The lost root was found and sent again, and a later scan found nothing left: the rounds of this
    // instance no longer read the run's leased states for it (each such read scans all of them).
    const scans = await runInDurableObject(stub, async (instance) => {
      const store = (instance as unknown as { store: { staleDeliveries: (...a: unknown[]) => number[] } })
        .store;
      let n = 0;
      const original = store.staleDeliveries.bind(store);
      store.staleDeliveries = (...a: unknown[]) => {
        n += 1;
        return original(...a);
      };
      await instance.alarm();
      await instance.alarm();
      return n;
    });
    expect(scans).toBe(0);
  });

  it("starts a branch shard in the first delivery epoch: its own first deliveries are never an earlier instance's", async () => {
    const graph = fresh("shardepoch");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    // Outputs from SHARD_FROM_OUTPUT on go to the BRANCH_SHARDS shards (the tests': 2 and 3).
    const runId = await triggerRun("examples", graph, {
      inputs: { data: "[1,2,3,4,5,6,7,8]", chunk_size: "1" },
    });
    await vi.waitUntil(async () => (await runRow("examples", runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    const runKey = runKeyOfRunId(runId) ?? "";
    const shards = await Promise.all(
      Array.from({ length: Number(env.BRANCH_SHARDS) }, (_, i) =>
        runInDurableObject(env.RUN.getByName(actorName(runKey, i + 1)), (instance, state) => ({
          epoch: (instance as unknown as { epoch: number }).epoch,
          stored: state.storage.sql
            .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'delivery_epoch'")
            .one().value,
          deliveries: state.storage.sql
            .exec<{ delivery: number }>("SELECT DISTINCT delivery FROM states WHERE delivery IS NOT NULL")
            .toArray()
            .map((r) => r.delivery),
        })),
      ),
    );
    // Every shard got branches, and delivered them in its first epoch, as a new run actor does.
    for (const shard of shards) {
      expect(shard).toEqual({
        epoch: FIRST_DELIVERY_EPOCH,
        stored: String(FIRST_DELIVERY_EPOCH),
        deliveries: [FIRST_DELIVERY_EPOCH],
      });
    }
    expect((await costsOf(runId)).redeliveries).toBe(0);
  });

  it("does not send again what a consumer confirmed after the restart, and refuses the old copy later", async () => {
    const { runId, delivery } = await rootSentIntoTheVoid(fresh("held"));
    let stub = await restart(runId);
    // A consumer that survived the restart still runs the root and says so (pickup, then heartbeats).
    expect(await stub.pickup([{ seq: 1, d: delivery }])).toEqual([1]);
    await afterTheDeliveryLease(stub);
    expect((await stateRows<Row>(runId))[0]).toMatchObject({ status: "QUEUED", delivery });
    expect((await costsOf(runId)).redeliveries).toBe(0);

    // Another restart, and this time nobody confirms: it goes out again in a newer delivery...
    stub = await restart(runId);
    await afterTheDeliveryLease(stub);
    const [root] = await stateRows<Row>(runId);
    expect(root?.delivery).toBeGreaterThan(delivery);
    // ...and a late copy of the old message is refused, so the node is not run twice.
    expect(await stub.pickup([{ seq: 1, d: delivery }])).toEqual([]);
    await vi.waitUntil(async () => (await runRow("examples", runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    expect(await runRow("examples", runId)).toMatchObject({ retried_count: 0, errored_count: 0 });
    // Finished: nothing is left to run, whatever delivery a duplicate message carries.
    expect(await stub.pickup([{ seq: 1, d: root?.delivery as number }, { seq: 1 }, { seq: 999 }])).toEqual(
      [],
    );
  });

  it("gives a node with a timeout an execution lease of PUSH_LEASE_MS plus its timeout", async () => {
    const before = Date.now();
    const { runId } = await rootSentIntoTheVoid(fresh("timeout"), 3_600);
    const [root] = await stateRows<Row>(runId);
    // The test suite's PUSH_LEASE_MS is the default, 30 minutes; the node's timeout is an hour.
    expect(root?.lease_expires).toBeGreaterThanOrEqual(before + 30 * 60_000 + 3_600_000);
    expect(root?.lease_expires).toBeLessThanOrEqual(Date.now() + 30 * 60_000 + 3_600_000);
  });

  it("keeps the execution lease: a state picked up that never reports still fails through the retry policy", async () => {
    const { runId, stub } = await rootSentIntoTheVoid(fresh("hung"));
    const expired = await runInDurableObject(stub, async (instance) => {
      const actor = instance as unknown as RunActor;
      return [await actor.expireLeases(Date.now()), await actor.expireLeases(Date.now() + 31 * 60_000)];
    });
    expect(expired).toEqual([0, 1]);
    expect((await stateRows<Row>(runId))[0]).toMatchObject({ status: "ERRORED" });
    expect((await runRow("examples", runId))?.status).toBe("FAILED");
  });
});
