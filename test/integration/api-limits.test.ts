// Values too large to store in a Durable Object's row are refused at the edge with 413 and change nothing.
import { describe, expect, it } from "vitest";
import { MAX_STATE_VALUE_BYTES } from "../../src/engine/limits";
import { fresh, json } from "./helpers/http";
import { enqueue, node, registerPull, report, statesOf, trigger, upsertValid } from "./helpers/pull";

const huge = "x".repeat(MAX_STATE_VALUE_BYTES + 1);

async function oneNodeGraph() {
  const ns = fresh("lim");
  await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
  await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
  return ns;
}

describe("stored-value bounds", () => {
  it("refuses an executed report with an output too large to store, and the state stays QUEUED", async () => {
    const ns = await oneNodeGraph();
    const runId = await trigger(ns, "g");
    const [state] = await enqueue(ns, ["P"], 1);
    const res = await report(ns, state?.state_id ?? "", "executed", { outputs: [{ v: "ok" }, { v: huge }] });
    expect(res).toEqual({
      status: 413,
      body: { detail: `Output 1 is larger than ${MAX_STATE_VALUE_BYTES} bytes` },
    });
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["QUEUED"]);
    // A report that fits still applies afterwards.
    expect((await report(ns, state?.state_id ?? "", "executed", { outputs: [{ v: "ok" }] })).status).toBe(
      200,
    );
  });

  it("refuses a trigger whose root inputs or store values are too large, and creates no run", async () => {
    const ns = await oneNodeGraph();
    const big = await json("POST", `/v0/namespace/${ns}/graph/g/trigger`, { inputs: { v: huge } });
    expect(big).toEqual({
      status: 413,
      body: { detail: `Root inputs are larger than ${MAX_STATE_VALUE_BYTES} bytes` },
    });
    const store = await json("POST", `/v0/namespace/${ns}/graph/g/trigger`, { store: { k: huge } });
    expect(store.status).toBe(413);
    const runs = await json<{ total: number }>("GET", `/v0/namespace/${ns}/runs/1/10`);
    expect(runs.body.total).toBe(0);
  });
});
