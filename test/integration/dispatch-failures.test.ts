// Failure paths of dispatch (design §5, invariant 2): a send that fails is sent again by the alarm, and a
// dispatched state whose lease expires goes through the retry policy.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { splitProcessMergeGraph } from "../../examples/runtime/src/graphs";
import {
  dispatchRootThrough,
  fresh,
  runRow,
  runStub,
  stateRows,
  triggerRun,
  upsertValid,
} from "./helpers/http";

interface Row {
  seq: number;
  status: string;
  error: string | null;
}

/**
 * A run of `graph` over `data` whose root is not due for a minute, so nothing is sent until a test
 * dispatches it (`dispatchRootThrough`) with the send it wants.
 */
async function delayedRun(
  name: string,
  data: string,
  graph: Record<string, unknown> = splitProcessMergeGraph,
) {
  const graphName = fresh(name);
  await upsertValid("examples", graphName, graph);
  const runId = await triggerRun("examples", graphName, {
    inputs: { data, chunk_size: "1" },
    start_delay: 60_000,
  });
  return { runId, stub: runStub(runId) };
}

/** The run actor's unconfirmed dispatch rounds (the only rows `dispatch_rounds` holds). */
const roundRows = (stub: ReturnType<typeof runStub>) =>
  runInDurableObject(
    stub,
    (_, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dispatch_rounds").one().n,
  );

/** Runs the run actor's alarm (which sends unconfirmed rounds again) until the run ends SUCCESS. */
async function alarmsUntilSuccess(stub: ReturnType<typeof runStub>, runId: string): Promise<void> {
  await vi.waitUntil(
    async () => {
      await runDurableObjectAlarm(stub);
      return (await runRow("examples", runId))?.status === "SUCCESS";
    },
    { timeout: 30_000, interval: 100 },
  );
}

describe("dispatch failures", () => {
  it("records nothing but the claim for a push round that went out", async () => {
    const { runId, stub } = await delayedRun("sent", "[1,2,3]");
    const sent: unknown[][] = [];
    await dispatchRootThrough(stub, async (batch) => {
      sent.push(batch);
    });
    expect(sent).toHaveLength(1);
    const rounds = await roundRows(stub);
    // The claim (QUEUED, tagged with its delivery) is the record: a crash after it is the next instance's
    // to repair (delivery-lease.test.ts), so no round row is written, and none deleted after the send.
    expect(rounds).toBe(0);
    expect((await stateRows<Row>(runId)).map((r) => r.status)).toEqual(["QUEUED"]);
  });

  it("sends a round again after its sendBatch failed, and the run finishes exactly", async () => {
    const { runId, stub } = await delayedRun("resend", "[1,2,3]");
    await dispatchRootThrough(stub, () => Promise.reject(new Error("queue unavailable")));
    const rounds = await roundRows(stub);
    // Claimed, never sent, and recorded as an unconfirmed round when the send failed.
    expect(rounds).toBe(1);
    expect((await stateRows<Row>(runId)).map((r) => r.status)).toEqual(["QUEUED"]);
    // The alarm sends the round again once it is RESEND_AFTER_MS old; the run then completes.
    await alarmsUntilSuccess(stub, runId);
    expect(await runRow("examples", runId)).toMatchObject({
      success_count: 7,
      errored_count: 0,
      total_count: 7,
    });
  });

  it("a wide fan-out's branches are born claimed, sent after the commit, and sent again if that send failed", async () => {
    const n = 300;
    const { runId, stub } = await delayedRun(
      "born",
      JSON.stringify(Array.from({ length: n }, (_, i) => i + 1)),
    );
    // The root goes out (its send "succeeds" without reaching the queue); the splitter's report then
    // creates 300 branches while every send fails.
    await dispatchRootThrough(stub, async () => {});
    const born = await runInDurableObject(stub, async (instance, state) => {
      const env = (instance as unknown as { env: { EXAMPLES_QUEUE: Queue } }).env;
      const queue = env.EXAMPLES_QUEUE;
      env.EXAMPLES_QUEUE = {
        ...queue,
        sendBatch: () => Promise.reject(new Error("queue unavailable")),
      } as unknown as Queue;
      // This run keeps its branches in the run actor (the tests' configuration shards from output 2).
      const actor = instance as unknown as { meta: { shards: unknown }; engine: unknown };
      actor.meta.shards = { count: 0, from: 0 };
      actor.engine = null;
      try {
        const outputs = Array.from({ length: n }, (_, i) => ({ chunk: `[${i + 1}]` }));
        const [outcome] = await instance.report([{ type: "executed", seq: 1, outputs }]);
        expect(outcome).toMatchObject({ applied: true });
      } finally {
        env.EXAMPLES_QUEUE = queue;
      }
      const sql = state.storage.sql;
      return {
        branches: sql
          .exec<{ status: string; leased: number; delivery: number | null; n: number }>(
            `SELECT status, lease_expires > 0 AS leased, delivery, count(*) AS n FROM states
             WHERE identifier = 'processor' GROUP BY status, leased, delivery`,
          )
          .toArray(),
        rounds: sql.exec<{ n: number }>("SELECT count(*) AS n FROM dispatch_rounds").one().n,
        rows: (await instance.costs()).rowsWritten,
      };
    });
    // Born QUEUED, leased and tagged with a delivery, and recorded as one unconfirmed round when their
    // send failed: written once each (the root, 299 clones, 300 branches, and a few bookkeeping rows), with
    // no claim write of their own.
    expect(born.branches).toEqual([{ status: "QUEUED", leased: 1, delivery: 1, n }]);
    expect(born.rounds).toBe(1);
    expect(born.rows).toBeLessThan(2 * n + 20);
    await alarmsUntilSuccess(stub, runId);
    expect(await runRow("examples", runId)).toMatchObject({
      success_count: 2 * n + 1,
      errored_count: 0,
      total_count: 2 * n + 1,
    });
  });

  it("turns an expired push lease into an errored attempt that the retry policy retries", async () => {
    const { runId, stub } = await delayedRun("lease", "[1]", {
      ...splitProcessMergeGraph,
      retry_policy: { max_retries: 1 },
    });
    // A state handed out whose runtime never reports: claimed (QUEUED) with a lease, as a dispatch does.
    const expired = await runInDurableObject(stub, async (instance, state) => {
      state.storage.sql.exec(
        "UPDATE states SET status = 'QUEUED', lease_expires = ? WHERE seq = 1",
        Date.now() + 30 * 60_000,
      );
      state.storage.sql.exec("UPDATE counts SET status = 'QUEUED' WHERE status = 'CREATED'");
      const early = await instance.expireLeases(Date.now());
      const late = await instance.expireLeases(Date.now() + 31 * 60_000);
      return [early, late];
    });
    expect(expired).toEqual([0, 1]);
    const rows = await stateRows<Row>(runId);
    expect(rows[0]).toMatchObject({ status: "RETRY_CREATED", error: "lease expired" });
    // The retry is a new attempt, due after the retry policy's delay.
    expect(rows[1]).toMatchObject({ status: "CREATED" });
  });
});
