// Retry policies and manual retry, end to end through the test runtime Worker and its queue
// (namespace "ctl"). Short delays are left to the run actor's own alarm; long ones are advanced by
// rewriting the state's due time and running the alarm explicitly, so no test sleeps.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { parseStateId, runKeyOfRunId, shardOfSeq, stateIdOf } from "../../src/engine/ids";
import {
  endCover,
  fresh,
  json,
  runRow,
  runStub,
  settled,
  stateRows,
  triggerRun,
  upsertValid,
} from "./helpers/http";
import { ctlNode, TEST_NAMESPACE as NS } from "./runtime/test-nodes";

interface StateRecord {
  seq: number;
  identifier: string;
  status: string;
  retry_count: number;
  enqueue_after: number;
  inputs: string;
  outputs: string;
  error: string | null;
}

const states = (runId: string) => stateRows<StateRecord>(runId);

describe("retry policy", () => {
  it("retries a failing node until it succeeds: three attempts, two retries", async () => {
    const graph = fresh("retry-ok");
    const key = fresh("flaky");
    await upsertValid(NS, graph, {
      nodes: [ctlNode("flaky", "FlakyNode", { key, fail_times: "2", value: "done" })],
      retry_policy: { max_retries: 3, strategy: "FIXED", backoff_factor: 1 },
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    expect(row).toMatchObject({ status: "SUCCESS", retried_count: 2, success_count: 1, errored_count: 0 });

    const all = await states(runId);
    expect(all.map((s) => [s.status, s.retry_count])).toEqual([
      ["RETRY_CREATED", 0],
      ["RETRY_CREATED", 1],
      ["SUCCESS", 2],
    ]);
    // Every attempt ran with the same inputs; the failures are kept on the superseded attempts.
    expect(new Set(all.map((s) => s.inputs)).size).toBe(1);
    expect(all[0]?.error).toContain(`attempt 1 of ${key} failed`);
    expect(all[1]?.error).toContain(`attempt 2 of ${key} failed`);
    expect(JSON.parse(all[2]?.outputs ?? "{}")).toEqual({ value: "done" });
  });

  it("keeps a retry undispatched until its delay is due", async () => {
    const graph = fresh("retry-delay");
    await upsertValid(NS, graph, {
      nodes: [ctlNode("flaky", "FlakyNode", { key: fresh("flaky"), fail_times: "1", value: "late" })],
      retry_policy: { max_retries: 1, strategy: "FIXED", backoff_factor: 60_000 },
    });
    const before = Date.now();
    const runId = await triggerRun(NS, graph);
    await vi.waitUntil(async () => (await states(runId)).length === 2, { timeout: 30_000, interval: 20 });

    const retry = (await states(runId))[1];
    expect(retry).toMatchObject({ status: "CREATED", retry_count: 1 });
    expect(retry?.enqueue_after).toBeGreaterThanOrEqual(before + 60_000);

    // The run was started under the cover of its start record: a minute away, the retry's alarm is the
    // namespace actor's repair to ask for. Once it did, the run actor's alarm is armed for the retry.
    await endCover(NS, runId);
    // The alarm going off now (early) must not dispatch the retry: it is not due for a minute.
    expect(await runDurableObjectAlarm(runStub(runId))).toBe(true);
    expect((await states(runId))[1]?.status).toBe("CREATED");
    expect((await runRow(NS, runId))?.pending_count).toBe(1);
    const armed = await runInDurableObject(runStub(runId), (_a, state) => state.storage.getAlarm());
    expect(armed).not.toBeNull();
    expect(armed ?? 0).toBeGreaterThanOrEqual(before + 60_000);

    // Let a minute pass, deterministically: the retry's due time moves into the past, then the alarm
    // that would have gone off at that time runs.
    await runInDurableObject(runStub(runId), async (_a, state) => {
      const past = Date.now() - 1;
      state.storage.sql.exec("UPDATE states SET enqueue_after = ? WHERE seq = ?", past, retry?.seq ?? -1);
    });
    expect(await runDurableObjectAlarm(runStub(runId))).toBe(true);
    const row = await settled(NS, runId);
    expect(row).toMatchObject({ status: "SUCCESS", retried_count: 1 });
  });

  it("fails the run when retries run out; ALL_SUCCESS fails its barrier while ALL_DONE runs", async () => {
    const graph = fresh("retry-out");
    const work = { next_nodes: ["strict", "lenient"] };
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode(
          "list",
          "ListNode",
          { items: JSON.stringify(["ok1", "fail-1", "ok2"]) },
          { next_nodes: ["work"] },
        ),
        ctlNode("work", "FailNode", { value: "${{ list.outputs.value }}" }, work),
        ctlNode(
          "strict",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          { unites: { identifier: "list", strategy: "ALL_SUCCESS" } },
        ),
        ctlNode(
          "lenient",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          { unites: { identifier: "list", strategy: "ALL_DONE" } },
        ),
      ],
      retry_policy: { max_retries: 1, strategy: "FIXED", backoff_factor: 1 },
    });
    const runId = await triggerRun(NS, graph);
    const row = await settled(NS, runId);
    expect(row).toMatchObject({ status: "FAILED", retried_count: 1 });

    const all = await states(runId);
    const failedWork = all.filter((s) => s.identifier === "work" && s.status === "ERRORED");
    expect(failedWork.map((s) => [s.retry_count, s.error])).toEqual([[1, "fail-1 failed as asked"]]);
    const failedId = `${runKeyOfRunId(runId)}${(failedWork[0]?.seq ?? 0).toString(16).padStart(8, "0")}`;

    const strict = all.filter((s) => s.identifier === "strict");
    expect(strict).toHaveLength(1);
    expect(strict[0]?.status).toBe("ERRORED");
    expect(strict[0]?.error).toContain("Unite barrier failed");
    expect(strict[0]?.error).toContain(failedId);

    const lenient = all.filter((s) => s.identifier === "lenient");
    expect(lenient.map((s) => s.status)).toEqual(["SUCCESS"]);
    // Only the successful branches' outputs reach the unite, in fan-out order.
    expect(JSON.parse(lenient[0]?.outputs ?? "{}")).toEqual({ value: JSON.stringify(["ok1", "ok2"]) });
  });
});

describe("manual retry", () => {
  it("reruns an ERRORED branch with its inputs and refuses a state that succeeded", async () => {
    const graph = fresh("manual");
    const prefix = fresh("m");
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode(
          "list",
          "ListNode",
          { items: JSON.stringify([`${prefix}-a`, `${prefix}-b`]) },
          { next_nodes: ["work"] },
        ),
        ctlNode("work", "FlakyNode", {
          key: "${{ list.outputs.value }}",
          fail_times: "1",
          value: "${{ list.outputs.value }}",
        }),
      ],
      retry_policy: { max_retries: 0 },
    });
    const runId = await triggerRun(NS, graph);
    expect(await settled(NS, runId)).toMatchObject({ status: "FAILED", errored_count: 2 });

    const errored = (await states(runId)).filter((s) => s.status === "ERRORED");
    expect(errored).toHaveLength(2);
    const stub = runStub(runId);
    const retried: string[] = [];
    for (const s of errored) {
      const res = await stub.manualRetry(s.seq, crypto.randomUUID());
      if (!res.ok) throw new Error(`manual retry refused: ${JSON.stringify(res)}`);
      retried.push(res.value.id);
    }
    const row = await settled(NS, runId);
    // Two list states (the head and its fan-out clone) and the two reruns.
    expect(row).toMatchObject({ status: "SUCCESS", errored_count: 0, success_count: 4 });

    const all = await states(runId);
    for (const [i, original] of errored.entries()) {
      const seq = parseStateId(retried[i] ?? "")?.seq;
      const rerun = all.find((s) => s.seq === seq);
      expect(rerun).toMatchObject({ status: "SUCCESS", retry_count: 0, inputs: original.inputs });
      expect(all.find((s) => s.seq === original.seq)?.status).toBe("RETRY_CREATED");
    }

    // A state that succeeded is refused (Exosphere would duplicate its downstream work), and so is one
    // already superseded by a retry.
    const success = all.find((s) => s.status === "SUCCESS" && s.identifier === "work");
    const refused = await stub.manualRetry(success?.seq ?? -1, crypto.randomUUID());
    expect(refused).toMatchObject({ ok: false, error: { kind: "conflict" } });
    const superseded = await stub.manualRetry(errored[0]?.seq ?? -1, crypto.randomUUID());
    expect(superseded).toMatchObject({ ok: false, error: { kind: "conflict" } });
    expect((await states(runId)).length).toBe(all.length);
  });
});

describe("manual retry of the branches of a failed ALL_SUCCESS unite", () => {
  it("fires the unite once every failed branch is retried to success, over branch shards", async () => {
    const graph = fresh("rescue");
    const prefix = fresh("r");
    const items = ["a", "b", "c", "d", "e"].map((x) => `${prefix}-${x}`);
    await upsertValid(NS, graph, {
      nodes: [
        ctlNode("list", "ListNode", { items: JSON.stringify(items) }, { next_nodes: ["work"] }),
        // Fails the first attempt of each item; no retry, so every branch fails and the barrier with it.
        ctlNode(
          "work",
          "FlakyNode",
          { key: "${{ list.outputs.value }}", fail_times: "1", value: "${{ list.outputs.value }}" },
          { next_nodes: ["strict"] },
        ),
        ctlNode(
          "strict",
          "SignalNode",
          { value: "${{ work.outputs.value }}" },
          { unites: { identifier: "list", strategy: "ALL_SUCCESS" } },
        ),
      ],
      retry_policy: { max_retries: 0 },
    });
    const runId = await triggerRun(NS, graph);
    expect(await settled(NS, runId)).toMatchObject({ status: "FAILED", errored_count: items.length + 1 });
    const runKey = runKeyOfRunId(runId) ?? "";
    const before = await states(runId);
    const failedWork = before.filter((s) => s.identifier === "work" && s.status === "ERRORED");
    expect(failedWork).toHaveLength(items.length);
    // The branches live in the shards (three of them in this suite), the barrier in the run actor.
    expect(new Set(failedWork.map((s) => shardOfSeq(s.seq))).size).toBeGreaterThan(1);
    const [strict] = before.filter((s) => s.identifier === "strict");
    expect(strict?.error).toContain("retry them to fire it again");
    // The unite itself cannot be retried: its branches can.
    const refused = await json(
      "POST",
      `/v0/namespace/${NS}/state/${stateIdOf(runKey, strict?.seq ?? 0)}/manual-retry`,
      { fanout_id: "u" },
    );
    expect(refused.status).toBe(409);

    for (const [i, s] of failedWork.entries()) {
      const res = await json("POST", `/v0/namespace/${NS}/state/${stateIdOf(runKey, s.seq)}/manual-retry`, {
        fanout_id: `f${i}`,
      });
      expect(res.status).toBe(200);
    }
    await vi.waitUntil(async () => (await runRow(NS, runId))?.status === "SUCCESS", {
      timeout: 30_000,
      interval: 50,
    });
    const after = await states(runId);
    const unites = after.filter((s) => s.identifier === "strict");
    expect(unites.map((s) => s.status)).toEqual(["RETRY_CREATED", "SUCCESS"]);
    // Every branch's output, in fan-out order (the retries took their branches' places).
    expect(JSON.parse(unites[1]?.outputs ?? "{}")).toEqual({ value: JSON.stringify(items) });
    expect(await runRow(NS, runId)).toMatchObject({ errored_count: 0, pending_count: 0 });
  });
});
