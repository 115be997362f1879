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

describe("dispatch failures", () => {
  it("sends a round again after its sendBatch failed, and the run finishes exactly", async () => {
    const graph = fresh("resend");
    await upsertValid("examples", graph, splitProcessMergeGraph);
    // Not due for a minute, so nothing is sent before the queue is broken below.
    const runId = await triggerRun("examples", graph, {
      inputs: { data: "[1,2,3]", chunk_size: "1" },
      start_delay: 60_000,
    });
    const stub = runStub(runId);
    await dispatchRootThrough(stub, () => Promise.reject(new Error("queue unavailable")));
    const rounds = await runInDurableObject(
      stub,
      (_, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM dispatch_rounds").one().n,
    );
    // Claimed and recorded as an unconfirmed round, but never sent.
    expect(rounds).toBe(1);
    expect((await stateRows<Row>(runId)).map((r) => r.status)).toEqual(["QUEUED"]);
    // The alarm sends the round again once it is RESEND_AFTER_MS old; the run then completes.
    await vi.waitUntil(
      async () => {
        await runDurableObjectAlarm(stub);
        return (await runRow("examples", runId))?.status === "SUCCESS";
      },
      { timeout: 30_000, interval: 100 },
    );
    expect(await runRow("examples", runId)).toMatchObject({
      success_count: 7,
      errored_count: 0,
      total_count: 7,
    });
  });

  it("turns an expired push lease into an errored attempt that the retry policy retries", async () => {
    const graph = fresh("lease");
    await upsertValid("examples", graph, { ...splitProcessMergeGraph, retry_policy: { max_retries: 1 } });
    const runId = await triggerRun("examples", graph, {
      inputs: { data: "[1]", chunk_size: "1" },
      start_delay: 60_000,
    });
    const stub = runStub(runId);
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
