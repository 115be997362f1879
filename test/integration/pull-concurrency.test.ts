// Many workers reporting at once, as Exosphere's SDK does (one request per state, dozens in flight): the
// run actor and its branch shards apply concurrent report RPCs together (group commit, report-batch.ts),
// and every request must still be answered exactly as if it had come alone. The test configuration puts
// branches from the third output on in branch shards, so the reports of one fan-out go to several actors.
import { describe, expect, it, vi } from "vitest";
import { parseStateId } from "../../src/engine/ids";
import { fresh, json, runRow } from "./helpers/http";
import { enqueue, node, registerPull, report, trigger, upsertValid } from "./helpers/pull";

const WIDTH = 24;

async function fanOut() {
  const ns = fresh("conc");
  await registerPull(ns, [
    { name: "Fan", outputs: ["item"] },
    { name: "Leaf", inputs: ["item"], outputs: ["done"] },
    { name: "Join", inputs: ["all"], outputs: ["n"] },
  ]);
  await upsertValid(ns, "g", {
    nodes: [
      node(ns, "Fan", "fan", {}, ["leaf"]),
      node(ns, "Leaf", "leaf", { item: "${{ fan.outputs.item }}" }, ["join"]),
      {
        ...node(ns, "Join", "join", { all: "${{ leaf.outputs.done }}" }),
        unites: { identifier: "fan", strategy: "ALL_SUCCESS" },
      },
    ],
    retry_policy: { max_retries: 0 },
  });
  const runId = await trigger(ns, "g");
  const [fan] = await enqueue(ns, ["Fan"], 1);
  if (!fan) throw new Error("no Fan state was handed out");
  const outputs = Array.from({ length: WIDTH }, (_, i) => ({ item: String(i) }));
  expect((await report(ns, fan.state_id, "executed", { outputs })).status).toBe(200);
  const leaves = await enqueue(ns, ["Leaf"], WIDTH);
  expect(leaves).toHaveLength(WIDTH);
  return { ns, runId, leaves };
}

describe("concurrent reports", () => {
  it("answer each request on its own: one 200 per state, the duplicates 400, the unite once", async () => {
    const { ns, runId, leaves } = await fanOut();
    // The leaves live in more than one actor, and each report goes to the actor its id names.
    expect(new Set(leaves.map((l) => parseStateId(l.state_id)?.actor)).size).toBeGreaterThan(1);

    // Every leaf reported twice at once, all requests in flight together.
    const answers = await Promise.all(
      leaves.flatMap((l) =>
        [0, 1].map(async () => ({
          id: l.state_id,
          ...(await report(ns, l.state_id, "executed", { outputs: [{ done: l.inputs.item ?? "" }] })),
        })),
      ),
    );
    for (const leaf of leaves) {
      const mine = answers.filter((a) => a.id === leaf.state_id);
      expect(mine.map((a) => a.status).sort()).toEqual([200, 400]);
      expect(mine.find((a) => a.status === 200)?.body).toEqual({ status: "EXECUTED" });
      expect(mine.find((a) => a.status === 400)?.body).toEqual({ detail: "State is not queued" });
    }

    // The unite fired exactly once, with every branch's result in fan-out order (the shards settle their
    // branches with the run actor, which then creates it: wait for it to be handed out).
    const joins = await vi.waitUntil(
      async () => {
        const got = await enqueue(ns, ["Join"], 10);
        return got.length > 0 ? got : undefined;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(joins).toHaveLength(1);
    expect(await enqueue(ns, ["Join"], 10)).toEqual([]);
    expect(JSON.parse(joins[0]?.inputs.all ?? "null")).toEqual(
      Array.from({ length: WIDTH }, (_, i) => String(i)),
    );
    const join = joins[0];
    if (!join) throw new Error("no Join state");
    expect((await report(ns, join.state_id, "executed", { outputs: [{ n: String(WIDTH) }] })).status).toBe(
      200,
    );
    expect(await runRow(ns, runId)).toMatchObject({
      status: "SUCCESS",
      success_count: 2 * WIDTH + 1,
      total_count: 2 * WIDTH + 1,
      pending_count: 0,
    });
  });

  it("apply a mix of executed and errored reports for different states, each with its own answer", async () => {
    const { ns, runId, leaves } = await fanOut();
    const answers = await Promise.all(
      leaves.map((l, i) =>
        i % 2 === 0
          ? report(ns, l.state_id, "executed", { outputs: [{ done: "ok" }] })
          : report(ns, l.state_id, "errored", { error: `leaf ${i} failed` }),
      ),
    );
    answers.forEach((a, i) => {
      expect(a).toEqual(
        i % 2 === 0
          ? { status: 200, body: { status: "EXECUTED" } }
          : { status: 200, body: { status: "ERRORED", retry_created: false } },
      );
    });
    // ALL_SUCCESS with failed branches: the barrier fails, recorded once, and the run ends FAILED.
    const row = await vi.waitUntil(
      async () => {
        const r = await runRow(ns, runId);
        return r?.pending_count === 0 ? r : undefined;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(row).toMatchObject({ status: "FAILED", errored_count: WIDTH / 2 + 1 });
    const costs = await json<{ reportRpcs: number; reportCommits: number }>(
      "GET",
      `/v0/namespace/${ns}/states/run/${runId}/costs`,
    );
    expect(costs.body.reportCommits).toBeGreaterThan(0);
    expect(costs.body.reportCommits).toBeLessThanOrEqual(costs.body.reportRpcs);
  });
});
