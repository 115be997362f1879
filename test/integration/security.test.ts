// Security fixes: no secrets without a configured key, whole run ids where ids route by prefix, bounded
// polls for pull states.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/api/app";
import { readyQueueName } from "../../src/dispatch/ready-refs";
import { parseStateId } from "../../src/engine/ids";
import { MAX_ENQUEUE_NODES } from "../../src/engine/limits";
import { call, fresh, json, KEY, runStub } from "./helpers/http";
import { enqueue, node, registerPull, statesOf, trigger, upsertValid } from "./helpers/pull";

/** The same engine, deployed without SECRETS_ENCRYPTION_KEY. */
const withoutKey = { ...env, SECRETS_ENCRYPTION_KEY: undefined } as Env;

function callWithoutKey(method: string, path: string, body?: unknown) {
  return app.fetch(
    new Request(`http://x${path}`, {
      method,
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    withoutKey,
  );
}

/** A run of a pull node declaring secret `token` (graph `g`, secret value "tok-value"), and its state. */
async function secretRun() {
  const ns = fresh("sec");
  await registerPull(ns, [{ name: "P", secrets: ["token"] }, { name: "Q" }]);
  await upsertValid(ns, "g", {
    secrets: { token: "tok-value" },
    nodes: [node(ns, "P", "p", {}, ["q"]), node(ns, "Q", "q")],
  });
  const runId = await trigger(ns, "g");
  const [state] = await statesOf(ns, runId);
  return { ns, runId, id: state?.id ?? "" };
}

describe("SECRETS_ENCRYPTION_KEY", () => {
  it("without it, a graph with secrets is refused with 503 and stores nothing", async () => {
    const ns = fresh("sec");
    await registerPull(ns, [{ name: "P", secrets: ["token"] }]);
    const res = await callWithoutKey("PUT", `/v0/namespace/${ns}/graph/g`, {
      secrets: { token: "tok-value" },
      nodes: [node(ns, "P", "p")],
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { detail: string };
    expect(body.detail).toContain("SECRETS_ENCRYPTION_KEY is not configured");
    expect(JSON.stringify(body)).not.toContain("tok-value");
    expect((await call("GET", `/v0/namespace/${ns}/graph/g`)).status).toBe(404);
  });

  it("without it, a graph without secrets is stored as before", async () => {
    const ns = fresh("sec");
    await registerPull(ns, [{ name: "P" }]);
    const res = await callWithoutKey("PUT", `/v0/namespace/${ns}/graph/g`, {
      secrets: {},
      nodes: [node(ns, "P", "p")],
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { validation_status: string }).validation_status).toBe("VALID");
  });

  it("without it, a run cannot read a declared secret; a node that declares none still gets its empty map", async () => {
    const { ns, runId, id } = await secretRun();
    await upsertValid(ns, "plain", { secrets: { token: "tok-value" }, nodes: [node(ns, "Q", "q")] });
    const plainRun = await trigger(ns, "plain");
    const [plain] = await statesOf(ns, plainRun);
    /** secretsOf in the run actor of a deployment without the key (its env is what configOf reads). */
    const secretsOfWithoutKey = (run: string, stateId: string) =>
      runInDurableObject(runStub(run), async (actor) => {
        const seq = parseStateId(stateId)?.seq ?? -1;
        const unkeyed = actor as unknown as { env: Env; secretsOf(seqs: number[]): Promise<unknown> };
        const keyed = unkeyed.env;
        unkeyed.env = withoutKey;
        try {
          return await unkeyed.secretsOf([seq]).then(
            (answer) => ({ answer }),
            (e: unknown) => ({ refused: e instanceof Error ? e.message : String(e) }),
          );
        } finally {
          unkeyed.env = keyed;
        }
      });
    const refused = await secretsOfWithoutKey(runId, id);
    expect(refused).toEqual({ refused: expect.stringContaining("SECRETS_ENCRYPTION_KEY is not configured") });
    const seq = parseStateId(plain?.id ?? "")?.seq ?? -1;
    expect(await secretsOfWithoutKey(plainRun, plain?.id ?? "")).toEqual({ answer: { [seq]: {} } });
  });

  it("with it, the secrets route answers the declared secret (the key is passed explicitly to the tests)", async () => {
    const { ns, id } = await secretRun();
    const res = await json<{ secrets: Record<string, string> }>(
      "GET",
      `/v0/namespace/${ns}/state/${id}/secrets`,
    );
    expect(res).toEqual({ status: 200, body: { secrets: { token: "tok-value" } } });
  });
});

describe("ids routed by their first 16 hex digits are checked whole", () => {
  /** A run id sharing the real one's run key (its first 16 hex digits), different after them. */
  const forge = (runId: string) => {
    const tail = runId.endsWith("-0000-000000000000") ? "-ffff-ffffffffffff" : "-0000-000000000000";
    return runId.slice(0, 18) + tail;
  };

  it("answers 404 for a forged run id on the graph, costs and node routes", async () => {
    const { ns, runId, id } = await secretRun();
    const forged = forge(runId);
    expect(forged.replaceAll("-", "").slice(0, 16)).toBe(runId.replaceAll("-", "").slice(0, 16));
    for (const path of [
      `/v0/namespace/${ns}/states/run/${forged}/graph`,
      `/v0/namespace/${ns}/states/run/${forged}/costs`,
      `/v0/namespace/${ns}/graph/g/run/${forged}/node/${id}`,
    ]) {
      const res = await call("GET", path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    // The real id still answers on each.
    for (const path of [
      `/v0/namespace/${ns}/states/run/${runId}/graph`,
      `/v0/namespace/${ns}/states/run/${runId}/costs`,
      `/v0/namespace/${ns}/graph/g/run/${runId}/node/${id}`,
    ]) {
      expect((await call("GET", path)).status).toBe(200);
    }
  });

  it("never lists another run's counts under an index entry whose id only shares its prefix", async () => {
    const { ns, runId } = await secretRun();
    const forged = forge(runId);
    await runInDurableObject(env.NAMESPACE.getByName(ns), async (_actor, state) => {
      state.storage.sql.exec(
        "INSERT INTO runs (run_id, graph_name, created_at) VALUES (?, 'g', ?)",
        forged,
        Date.now() + 1000,
      );
      state.storage.sql.exec("UPDATE meta SET value = '2' WHERE key = 'run_count'");
    });
    const page = await json<{ runs: Array<{ run_id: string; total_count: number; status: string }> }>(
      "GET",
      `/v0/namespace/${ns}/runs/1/10`,
    );
    const byId = Object.fromEntries(page.body.runs.map((r) => [r.run_id, r]));
    expect(byId[runId]).toMatchObject({ total_count: 1, status: "PENDING" });
    expect(byId[forged]).toMatchObject({ total_count: 0, status: "FAILED" });
  });
});

describe("states/enqueue is bounded", () => {
  it("refuses more than MAX_ENQUEUE_NODES node names with 422", async () => {
    const ns = fresh("enq");
    const names = Array.from({ length: MAX_ENQUEUE_NODES + 1 }, (_, i) => `n${i}`);
    const res = await json<{ detail: Array<{ type: string; loc: unknown[] }> }>(
      "POST",
      `/v0/namespace/${ns}/states/enqueue`,
      { nodes: names, batch_size: 10 },
    );
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({ type: "too_long", loc: ["body", "nodes"] });
  });

  it("asks only the ready queues of registered nodes, and an unregistered name leaves no storage", async () => {
    const { ns, id } = await secretRun();
    // A ref planted in the queue of a name nobody registered is never handed out.
    await env.READY_QUEUE.getByName(readyQueueName(ns, "Planted")).offer([{ id, due: 0 }]);
    const names = ["Planted", ...Array.from({ length: MAX_ENQUEUE_NODES - 2 }, (_, i) => `ghost${i}`), "P"];
    const pulled = await enqueue(ns, names, 10);
    expect(pulled.map((s) => s.state_id)).toEqual([id]);
    expect(await enqueue(ns, ["Planted"], 10)).toEqual([]);
    const tables = await runInDurableObject(
      env.READY_QUEUE.getByName(readyQueueName(ns, "ghost0")),
      async (_actor, state) =>
        state.storage.sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
          .toArray()
          .filter((t) => !t.name.startsWith("_cf")),
    );
    expect(tables).toEqual([]);
  });
});
