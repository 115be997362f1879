// Calls into the Worker the way a client would: through its fetch handler, with the test API key.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { actorName, runKeyOfRunId } from "../../../src/engine/ids";

export const KEY = "test-secret-key";

export async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return exports.default.fetch(
    new Request(`http://x${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      headers: { "x-api-key": KEY, "content-type": "application/json", ...headers },
    }),
  );
}

export async function json<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
  const res = await call(method, path, body);
  return { status: res.status, body: (await res.json()) as T };
}

export const fresh = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
export const freshNamespace = () => `ns-${crypto.randomUUID()}`;

/** A JSON schema whose properties are all plain strings (what a registered node declares). */
export const stringProps = (...names: string[]) => ({
  type: "object",
  properties: Object.fromEntries(names.map((n) => [n, { type: "string" }])),
});

export interface RunRow {
  run_id: string;
  graph_name: string;
  success_count: number;
  pending_count: number;
  errored_count: number;
  retried_count: number;
  total_count: number;
  status: string;
  /** Our extension: the run's start is still pending (the namespace actor's alarm makes it). */
  starting?: true;
}

export async function runRow(ns: string, runId: string): Promise<RunRow | undefined> {
  const { body } = await json<{ runs: RunRow[] }>("GET", `/v0/namespace/${ns}/runs/1/1000`);
  return body.runs.find((r) => r.run_id === runId);
}

/** Waits until the run has no pending state (observable state, no sleeps), then answers its row. */
export async function settled(ns: string, runId: string, timeout = 30_000): Promise<RunRow | undefined> {
  await vi.waitUntil(async () => (await runRow(ns, runId))?.pending_count === 0, { timeout, interval: 20 });
  return runRow(ns, runId);
}

/** The run actor of a run, addressed by its id alone. */
export const runStub = (runId: string) => env.RUN.getByName(runKeyOfRunId(runId) ?? "");

/** Upserts a graph (secrets default to none) and expects it to be VALID. */
export async function upsertValid(ns: string, graph: string, body: Record<string, unknown>): Promise<void> {
  const res = await json<{ validation_status: string; validation_errors: string[] }>(
    "PUT",
    `/v0/namespace/${ns}/graph/${graph}`,
    { secrets: {}, ...body },
  );
  expect(res.status).toBe(201);
  expect(res.body.validation_errors).toEqual([]);
  expect(res.body.validation_status).toBe("VALID");
}

/** Triggers a run (exactly 200) and answers its id. */
/**
 * The namespace actor's repair of a run's start, as if its start record were due (namespace-starts.ts): it
 * ends the cover that record gave the run, and the run actor's own alarm is armed from then on for
 * whatever its storage needs. After a restart, it is what wakes a run started under cover.
 */
export async function endCover(ns: string, runId: string): Promise<void> {
  const stub = env.NAMESPACE.getByName(ns);
  await runInDurableObject(stub, (_actor, state) => {
    state.storage.sql.exec("UPDATE run_starts SET retry_at = ? WHERE run_id = ?", Date.now() - 1, runId);
  });
  await runDurableObjectAlarm(stub);
}

export async function triggerRun(
  ns: string,
  graph: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const res = await json<{ run_id: string }>("POST", `/v0/namespace/${ns}/graph/${graph}/trigger`, body);
  expect(res.status).toBe(200);
  return res.body.run_id;
}

/**
 * Every state row of a run, read white-box from the storage of its run actor and of its branch shards
 * (whose seqs sort after the run actor's), in creation order within each actor.
 */
export async function stateRows<T>(runId: string): Promise<T[]> {
  const runKey = runKeyOfRunId(runId) ?? "";
  const shards = Number(env.BRANCH_SHARDS);
  const rows: T[] = [];
  for (let shard = 0; shard <= shards; shard++) {
    const part = await runInDurableObject(
      env.RUN.getByName(actorName(runKey, shard)),
      async (_actor, state) => {
        const sql = state.storage.sql;
        if (sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'states'").toArray().length === 0) return [];
        return sql
          .exec(
            "SELECT seq, identifier, status, retry_count, enqueue_after, inputs, outputs, error, delivery, lease_expires FROM states ORDER BY seq",
          )
          .toArray();
      },
    );
    rows.push(...(part as T[]));
  }
  return rows;
}

/**
 * Dispatches the root of a run triggered with a start delay (so nothing went out yet) by running its
 * actor's alarm once, with the example runtime's queue replaced by `sendBatch` for that one alarm: a queue
 * that fails, or one that drops every message as a killed engine's queue does.
 */
export async function dispatchRootThrough(
  stub: ReturnType<typeof runStub>,
  sendBatch: (batch: unknown[]) => Promise<void>,
): Promise<void> {
  await runInDurableObject(stub, async (instance, state) => {
    const env = (instance as unknown as { env: { EXAMPLES_QUEUE: Queue } }).env;
    const queue = env.EXAMPLES_QUEUE;
    env.EXAMPLES_QUEUE = { ...queue, sendBatch } as unknown as Queue;
    try {
      state.storage.sql.exec("UPDATE states SET enqueue_after = 0 WHERE seq = 1");
      await instance.alarm();
    } finally {
      env.EXAMPLES_QUEUE = queue;
    }
  });
}
