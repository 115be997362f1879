// The pull-runtime protocol as Exosphere's Python SDK speaks it (spec §5.2–§5.4, §6), and every report
// route with its error cases and our fixes (namespace checked, 404 for bad ids, 400 for a state that is
// not QUEUED, 409 for requeueing a finished state).
import { describe, expect, it, vi } from "vitest";
import { call, fresh, json, runRow, stateRows } from "./helpers/http";
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

describe("the Python SDK's integration test, replayed request by request", () => {
  it("runs Node1 with ten outputs to a SUCCESS run of ten states", async () => {
    const ns = fresh("test");
    const reg = await json("PUT", `/v0/namespace/${ns}/nodes/`, {
      runtime_name: "test-runtime",
      runtime_namespace: ns,
      nodes: [
        {
          name: "Node1",
          namespace: ns,
          inputs_schema: {
            properties: { message: { title: "Message", type: "string" } },
            required: ["message"],
            title: "Inputs",
            type: "object",
          },
          outputs_schema: {
            properties: { count: { title: "Count", type: "string" } },
            required: ["count"],
            title: "Outputs",
            type: "object",
          },
          secrets: [],
        },
      ],
    });
    expect(reg.status).toBe(200);

    const upsert = await json<{ validation_status: string }>("PUT", `/v0/namespace/${ns}/graph/test_graph`, {
      secrets: {},
      nodes: [
        {
          node_name: "Node1",
          namespace: ns,
          identifier: "node1",
          inputs: { message: "Hello, world!" },
          next_nodes: null,
          unites: null,
        },
      ],
    });
    expect(upsert.status).toBe(201);
    // The SDK polls GET while PENDING; it must end VALID.
    let graph = upsert.body;
    while (graph.validation_status === "PENDING") {
      graph = (await json<{ validation_status: string }>("GET", `/v0/namespace/${ns}/graph/test_graph`)).body;
    }
    expect(graph.validation_status).toBe("VALID");

    const triggered = await call("POST", `/v0/namespace/${ns}/graph/test_graph/trigger`, {
      start_delay: 0,
      inputs: {},
      store: {},
    });
    expect(triggered.status).toBe(200);
    const { status, run_id: runId } = (await triggered.json()) as { status: string; run_id: string };
    expect(status).toBe("CREATED");

    const polled = await json<{ count: number; namespace: string; status: string; states: unknown[] }>(
      "POST",
      `/v0/namespace/${ns}/states/enqueue`,
      { nodes: ["Node1"], batch_size: 16 },
    );
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({ count: 1, namespace: ns, status: "QUEUED" });
    const [state] = polled.body.states as { state_id: string; created_at: string }[];
    expect(state).toMatchObject({
      node_name: "Node1",
      identifier: "node1",
      inputs: { message: "Hello, world!" },
    });
    expect(state?.state_id).toMatch(/^[0-9a-f]{24}$/);
    expect(state?.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);

    const executed = await report(ns, state?.state_id ?? "", "executed", {
      outputs: Array.from({ length: 10 }, (_, i) => ({ count: String(i) })),
    });
    expect(executed).toEqual({ status: 200, body: { status: "EXECUTED" } });

    const runs = await json<{ runs: Record<string, unknown>[] }>("GET", `/v0/namespace/${ns}/runs/1/100`);
    expect(runs.body.runs).toHaveLength(1);
    expect(runs.body.runs[0]).toMatchObject({
      run_id: runId,
      graph_name: "test_graph",
      success_count: 10,
      pending_count: 0,
      errored_count: 0,
      retried_count: 0,
      total_count: 10,
      status: "SUCCESS",
    });
  });
});

/** A namespace with one pull node `P` in a one-node graph; answers the run and its QUEUED state. */
async function queuedState(retryPolicy: Record<string, unknown> = { max_retries: 0 }) {
  const ns = fresh("rep");
  await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
  await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })], retry_policy: retryPolicy });
  const runId = await trigger(ns, "g");
  const [state] = await enqueue(ns, ["P"], 1);
  if (!state) throw new Error("no state was handed out");
  return { ns, runId, id: state.state_id };
}

/** A CREATED (not yet claimed) state: triggered, never enqueued. */
async function createdState() {
  const ns = fresh("rep");
  await registerPull(ns, [{ name: "P", inputs: ["v"], outputs: ["v"] }]);
  await upsertValid(ns, "g", { nodes: [node(ns, "P", "p", { v: "x" })] });
  const runId = await trigger(ns, "g");
  const [state] = await statesOf(ns, runId);
  expect(state?.status).toBe("CREATED");
  return { ns, runId, id: state?.id ?? "" };
}

const counts = async (ns: string, runId: string) => {
  const row = await runRow(ns, runId);
  return {
    success: row?.success_count,
    pending: row?.pending_count,
    errored: row?.errored_count,
    retried: row?.retried_count,
    total: row?.total_count,
    status: row?.status,
  };
};

const REPORTS: [route: string, body: unknown][] = [
  ["executed", { outputs: [{ v: "y" }] }],
  ["errored", { error: "boom" }],
  ["prune", { data: { why: "test" } }],
  ["re-enqueue-after", { enqueue_after: 1000 }],
  ["manual-retry", { fanout_id: "f-1" }],
];

describe("every state route answers 404 for an id it cannot own", () => {
  it.each(REPORTS)(
    "%s: malformed, unknown and other-namespace ids are 404 State not found",
    async (route, body) => {
      const { ns, runId, id } = await queuedState();
      const before = await counts(ns, runId);
      for (const bad of ["not-an-id", "ZZZZ", `${id}00`, "0123456789abcdef01234567"]) {
        const res = await call("POST", `/v0/namespace/${ns}/state/${bad}/${route}`, body);
        expect(res.status).toBe(404);
        expect(res.headers.get("content-type")).toContain("application/json");
        expect(await res.json()).toEqual({ detail: "State not found" });
      }
      expect(await report(fresh("other"), id, route, body)).toEqual({
        status: 404,
        body: { detail: "State not found" },
      });
      expect(await counts(ns, runId)).toEqual(before);
      expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["QUEUED"]);
    },
  );

  it("secrets: malformed, unknown and other-namespace ids are 404", async () => {
    const { ns, id } = await queuedState();
    for (const bad of ["nope", "0123456789abcdef01234567"]) {
      const res = await json("GET", `/v0/namespace/${ns}/state/${bad}/secrets`);
      expect(res).toEqual({ status: 404, body: { detail: "State not found" } });
    }
    expect((await json("GET", `/v0/namespace/${fresh("other")}/state/${id}/secrets`)).status).toBe(404);
  });
});

describe("every report route validates its body (422, pydantic shape)", () => {
  it.each([
    ["executed", {}, "missing", ["body", "outputs"]],
    ["executed", { outputs: [1] }, "dict_type", ["body", "outputs", 0]],
    ["errored", { error: 5 }, "string_type", ["body", "error"]],
    ["prune", { data: [] }, "dict_type", ["body", "data"]],
    ["re-enqueue-after", { enqueue_after: 0 }, "greater_than", ["body", "enqueue_after"]],
    ["re-enqueue-after", {}, "missing", ["body", "enqueue_after"]],
    ["manual-retry", {}, "missing", ["body", "fanout_id"]],
  ])("%s with %j is 422 %s and changes nothing", async (route, body, type, loc) => {
    const { ns, runId, id } = await queuedState();
    const res = await report(ns, id, route, body);
    expect(res.status).toBe(422);
    expect((res.body as { detail: { type: string; loc: unknown[] }[] }).detail[0]).toMatchObject({
      type,
      loc,
    });
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["QUEUED"]);
  });
});

describe("executed", () => {
  it("finishes a queued state, and a duplicate or late report is a 400 that changes nothing", async () => {
    const { ns, runId, id } = await queuedState();
    expect(await report(ns, id, "executed", { outputs: [{ v: "a" }, { v: "b" }] })).toEqual({
      status: 200,
      body: { status: "EXECUTED" },
    });
    const after = await counts(ns, runId);
    expect(after).toEqual({ success: 2, pending: 0, errored: 0, retried: 0, total: 2, status: "SUCCESS" });
    expect(await report(ns, id, "executed", { outputs: [{ v: "c" }, { v: "d" }, { v: "e" }] })).toEqual({
      status: 400,
      body: { detail: "State is not queued" },
    });
    expect(await counts(ns, runId)).toEqual(after);
    expect((await stateDetails(ns, "g", runId, id)).outputs).toEqual({ v: "a" });
  });

  it("refuses a state that was never claimed", async () => {
    const { ns, runId, id } = await createdState();
    expect(await report(ns, id, "executed", { outputs: [] })).toEqual({
      status: 400,
      body: { detail: "State is not queued" },
    });
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["CREATED"]);
  });
});

describe("errored", () => {
  it("creates a retry while the policy allows, then ends ERRORED; duplicates change nothing", async () => {
    const { ns, runId, id } = await queuedState({ max_retries: 1, backoff_factor: 1 });
    expect(await report(ns, id, "errored", { error: "first" })).toEqual({
      status: 200,
      body: { status: "ERRORED", retry_created: true },
    });
    const afterRetry = await counts(ns, runId);
    expect(afterRetry).toMatchObject({ retried: 1, pending: 1, total: 2 });
    expect(await report(ns, id, "errored", { error: "again" })).toEqual({
      status: 400,
      body: { detail: "State is not queued or executed" },
    });
    expect(await counts(ns, runId)).toEqual(afterRetry);

    const retry = (await statesOf(ns, runId)).find((s) => s.id !== id);
    // The retry waits out its (1 ms) backoff; the run actor's alarm hands it to the ready queue.
    let pulled: string[] = [];
    await vi.waitUntil(async () => {
      pulled = (await enqueue(ns, ["P"], 5)).map((s) => s.state_id);
      return pulled.length > 0;
    });
    expect(pulled).toEqual([retry?.id]);
    expect(await report(ns, retry?.id ?? "", "errored", { error: "second" })).toEqual({
      status: 200,
      body: { status: "ERRORED", retry_created: false },
    });
    expect(await counts(ns, runId)).toEqual({
      success: 0,
      pending: 0,
      errored: 1,
      retried: 1,
      total: 2,
      status: "FAILED",
    });
    expect((await stateDetails(ns, "g", runId, retry?.id ?? "")).error).toBe("second");
  });

  it("says 'already executed' for an executed state and 'not queued or executed' for a created one", async () => {
    const done = await queuedState();
    await report(done.ns, done.id, "executed", { outputs: [] });
    expect(await report(done.ns, done.id, "errored", { error: "late" })).toEqual({
      status: 400,
      body: { detail: "State is already executed" },
    });
    expect((await counts(done.ns, done.runId)).status).toBe("SUCCESS");

    const created = await createdState();
    expect(await report(created.ns, created.id, "errored", { error: "early" })).toEqual({
      status: 400,
      body: { detail: "State is not queued or executed" },
    });
  });
});

describe("prune", () => {
  it("prunes a queued state with exactly 200; the run counts it as a success; repeats are 400", async () => {
    const { ns, runId, id } = await queuedState();
    const res = await report(ns, id, "prune", { data: { reason: "skip" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ enqueue_after: expect.any(Number), status: "PRUNED" });
    const after = await counts(ns, runId);
    expect(after).toEqual({ success: 1, pending: 0, errored: 0, retried: 0, total: 1, status: "SUCCESS" });
    expect(await report(ns, id, "prune", { data: {} })).toEqual({
      status: 400,
      body: { detail: "State is not queued" },
    });
    expect(await counts(ns, runId)).toEqual(after);
  });

  it("refuses a state that was never claimed", async () => {
    const { ns, id } = await createdState();
    expect(await report(ns, id, "prune", { data: {} })).toEqual({
      status: 400,
      body: { detail: "State is not queued" },
    });
  });
});

describe("re-enqueue-after", () => {
  it("puts the state back to CREATED, due after the delay, and never hands it out early", async () => {
    const { ns, runId, id } = await queuedState();
    const before = Date.now();
    const res = await report(ns, id, "re-enqueue-after", { enqueue_after: 3_600_000 });
    expect(res.status).toBe(200);
    const body = res.body as { enqueue_after: number; status: string };
    expect(body.status).toBe("CREATED");
    expect(body.enqueue_after).toBeGreaterThanOrEqual(before + 3_600_000);
    expect((await statesOf(ns, runId)).map((s) => s.status)).toEqual(["CREATED"]);
    expect(await enqueue(ns, ["P"], 10)).toEqual([]);
    // A second requeue of the same state, now CREATED and claimed by nobody, is refused and changes
    // nothing: only the runtime running a state may put it back.
    const again = await report(ns, id, "re-enqueue-after", { enqueue_after: 7_200_000 });
    expect(again.status).toBe(409);
    expect((again.body as { detail: string }).detail).toContain("CREATED");
    expect(await counts(ns, runId)).toMatchObject({ pending: 1, total: 1 });
    const [row] = await stateRows<{ enqueue_after: number }>(runId);
    expect(row?.enqueue_after).toBe(body.enqueue_after);
  });

  it("is a 409 for a CREATED state nobody claimed, which stays due at once", async () => {
    const { ns, id } = await createdState();
    const res = await report(ns, id, "re-enqueue-after", { enqueue_after: 3_600_000 });
    expect(res.status).toBe(409);
    expect((res.body as { detail: string }).detail).toBe(
      "State is CREATED: only a QUEUED state can be re-enqueued",
    );
    let pulled: string[] = [];
    await vi.waitUntil(async () => {
      pulled = (await enqueue(ns, ["P"], 5)).map((s) => s.state_id);
      return pulled.length > 0;
    });
    expect(pulled).toEqual([id]);
  });

  it("hands the same state out again once the delay has passed", async () => {
    const { ns, id } = await queuedState();
    const res = await report(ns, id, "re-enqueue-after", { enqueue_after: 200 });
    const due = (res.body as { enqueue_after: number }).enqueue_after;
    let pulled: string[] = [];
    await vi.waitUntil(async () => {
      pulled = (await enqueue(ns, ["P"], 5)).map((s) => s.state_id);
      return pulled.length > 0;
    });
    expect(pulled).toEqual([id]);
    expect(Date.now()).toBeGreaterThanOrEqual(due);
  });

  it("is a 409 for a finished state, which keeps its status and children", async () => {
    const { ns, runId, id } = await queuedState();
    await report(ns, id, "executed", { outputs: [{ v: "done" }] });
    const res = await report(ns, id, "re-enqueue-after", { enqueue_after: 1000 });
    expect(res.status).toBe(409);
    expect((res.body as { detail: string }).detail).toContain("SUCCESS");
    expect(await counts(ns, runId)).toEqual({
      success: 1,
      pending: 0,
      errored: 0,
      retried: 0,
      total: 1,
      status: "SUCCESS",
    });
  });
});

describe("manual-retry", () => {
  it("re-runs an errored state once; a duplicate or a finished state is 409", async () => {
    const { ns, runId, id } = await queuedState();
    await report(ns, id, "errored", { error: "boom" });
    const res = await report(ns, id, "manual-retry", { fanout_id: "retry-1" });
    expect(res.status).toBe(200);
    const { id: newId, status } = res.body as { id: string; status: string };
    expect(status).toBe("CREATED");
    expect(newId).toMatch(/^[0-9a-f]{24}$/);
    expect(newId).not.toBe(id);
    const after = await counts(ns, runId);
    expect(after).toMatchObject({ pending: 1, retried: 1, errored: 0, total: 2 });
    expect((await report(ns, id, "manual-retry", { fanout_id: "retry-1" })).status).toBe(409);
    expect(await counts(ns, runId)).toEqual(after);
    // The new state is a pull state like any other.
    expect((await enqueue(ns, ["P"], 5)).map((s) => s.state_id)).toEqual([newId]);
    await report(ns, newId, "executed", { outputs: [] });
    expect((await report(ns, newId, "manual-retry", { fanout_id: "retry-2" })).status).toBe(409);
    expect((await counts(ns, runId)).status).toBe("SUCCESS");
  });
});

describe("secrets", () => {
  it("answers only the secrets the state's node declared", async () => {
    const ns = fresh("sec");
    await registerPull(ns, [{ name: "S", inputs: ["v"], outputs: ["v"], secrets: ["api_token"] }]);
    await upsertValid(ns, "g", {
      nodes: [node(ns, "S", "s", { v: "x" })],
      secrets: { api_token: "tok-123", other_secret: "not-for-S" },
    });
    const runId = await trigger(ns, "g");
    const [state] = await statesOf(ns, runId);
    const res = await json("GET", `/v0/namespace/${ns}/state/${state?.id}/secrets`);
    expect(res).toEqual({ status: 200, body: { secrets: { api_token: "tok-123" } } });
  });

  it("answers none for a node that declares none", async () => {
    const { ns, id } = await queuedState();
    expect(await json("GET", `/v0/namespace/${ns}/state/${id}/secrets`)).toEqual({
      status: 200,
      body: { secrets: {} },
    });
  });
});

describe("run actor RPCs behind the routes", () => {
  it("scope manual retry to the namespace", async () => {
    const { ns, runId, id } = await queuedState();
    await report(ns, id, "errored", { error: "boom" });
    const seq = Number.parseInt(id.slice(16), 16);
    const res = await runStub(runId).manualRetry(seq, "x", "elsewhere");
    expect(res).toEqual({ ok: false, error: { kind: "not_found", detail: "State not found" } });
  });
});
