// A node nobody serves does not wait silently: once a PENDING run has had no state end for a while, the
// runs list, the live run view and the waiting state's details say which node waits, since when, who is
// registered to serve it, and when a runtime last polled for it.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fresh, json } from "./helpers/http";
import { enqueue, node, registerPull, runStub, statesOf, trigger, upsertValid } from "./helpers/pull";

interface Waiting {
  identifier: string;
  node_name: string;
  namespace: string;
  states: number;
  since: string;
  runtime_name: string | null;
  transport: string | null;
  last_seen_at: string | null;
}

/** As if the run's last state ended long ago (the notice waits STALL_NOTICE_MS for that). */
async function stalled(runId: string) {
  await runInDurableObject(runStub(runId), (instance) => {
    const actor = instance as unknown as { lastProgressAt: number; waitingCache: unknown };
    actor.lastProgressAt = 0;
    actor.waitingCache = null;
  });
}

async function runsRow(ns: string, runId: string) {
  const res = await json<{ runs: ({ run_id: string; waiting?: Waiting[] } & Record<string, unknown>)[] }>(
    "GET",
    `/v0/namespace/${ns}/runs/1/10`,
  );
  return res.body.runs.find((r) => r.run_id === runId);
}

describe("a run waiting on a node", () => {
  it("names the node, since when, and who should serve it, in the runs list, live view and details", async () => {
    const ns = fresh("wait");
    await registerPull(ns, [{ name: "Lonely", inputs: ["v"], outputs: ["v"] }], "gone-runtime");
    await upsertValid(ns, "g", { nodes: [node(ns, "Lonely", "lonely", { v: "x" })] });
    const runId = await trigger(ns, "g");

    // Just started: no notice yet (nothing has had time to stall).
    expect((await runsRow(ns, runId))?.waiting).toBeUndefined();

    await stalled(runId);
    const row = await runsRow(ns, runId);
    expect(row).toMatchObject({ status: "PENDING", pending_count: 1 });
    expect(row?.waiting).toEqual([
      {
        identifier: "lonely",
        node_name: "Lonely",
        namespace: ns,
        states: 1,
        since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        runtime_name: "gone-runtime",
        transport: "pull",
        last_seen_at: null,
      },
    ]);
    const live = await json<{ waiting?: Waiting[] }>("GET", `/v0/namespace/${ns}/states/run/${runId}/nodes`);
    expect(live.body.waiting?.[0]).toMatchObject({ node_name: "Lonely", last_seen_at: null });

    const [state] = await statesOf(ns, runId);
    const details = await json<Record<string, unknown>>(
      "GET",
      `/v0/namespace/${ns}/graph/g/run/${runId}/node/${state?.id}`,
    );
    expect(details.body).toMatchObject({
      status: "CREATED",
      waiting_since: expect.any(String),
      served_by: { runtime_name: "gone-runtime", transport: "pull", last_seen_at: null },
    });

    // A runtime polls: the node is served now (the poll is recorded), the state runs and waits for its report.
    const [pulled] = await enqueue(ns, ["Lonely"], 1);
    expect(pulled?.node_name).toBe("Lonely");
    await stalled(runId);
    const after = (await runsRow(ns, runId))?.waiting?.[0];
    expect(after).toMatchObject({ node_name: "Lonely", states: 1, runtime_name: "gone-runtime" });
    expect(after?.last_seen_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    const nodes = await json<{ nodes: { name: string; last_seen_at: string | null }[] }>(
      "GET",
      `/v0/namespace/${ns}/nodes/`,
    );
    expect(nodes.body.nodes.find((n) => n.name === "Lonely")?.last_seen_at).toBe(after?.last_seen_at);

    // Once it has ended, the run waits on nothing.
    const done = await json("POST", `/v0/namespace/${ns}/state/${pulled?.state_id}/executed`, {
      outputs: [{ v: "y" }],
    });
    expect(done.status).toBe(200);
    const finished = await runsRow(ns, runId);
    expect(finished).toMatchObject({ status: "SUCCESS" });
    expect(finished?.waiting).toBeUndefined();
  });
});
