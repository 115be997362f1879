// The pull floor: the least work any server must do to answer a pull runtime's requests, with no
// orchestration. It answers the same two requests as the engine's runtime protocol, in the same shapes:
//
//   POST /pull-floor/:job/setup?n=N                 → { rows }     n ready items (not timed)
//   POST /pull-floor/:job/states/enqueue            {nodes, batch_size} → {count, namespace, status, states}
//   POST /pull-floor/:job/state/:id/executed        {outputs} → {status: "EXECUTED"} (400 if not claimed)
//   GET  /pull-floor/:job                           → { n, done, doneAt }
//
// Each enqueue is one Durable Object call that claims up to batch_size rows (one row written each); each
// executed is one Durable Object call that marks one row done. Items are the seed's processor inputs
// (`{"data": "[i]"}`), so a runtime executes the same node on them as on the engine's branches.
import { DurableObject } from "cloudflare:workers";

export interface PullFloorEnv {
  PULL_FLOOR: DurableObjectNamespace<PullFloorActor>;
}

interface FloorState {
  state_id: string;
  node_name: string;
  identifier: string;
  inputs: Record<string, string>;
  created_at: string;
}

const NODE_NAME = "DataProcessorNode";

export class PullFloorActor extends DurableObject<PullFloorEnv> {
  private readonly sql = this.ctx.storage.sql;

  constructor(ctx: DurableObjectState, env: PullFloorEnv) {
    super(ctx, env);
    // status: 0 ready, 1 claimed, 2 done.
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, status INTEGER NOT NULL, done_at INTEGER)",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS items_status ON items (status, id)");
  }

  setup(n: number): number {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM items");
      for (let i = 0; i < n; i++) this.sql.exec("INSERT INTO items (id, status) VALUES (?, 0)", i);
    });
    return n;
  }

  /** Claims up to `limit` ready items, one row written each. */
  take(limit: number): FloorState[] {
    return this.ctx.storage.transactionSync(() => {
      const ids = this.sql
        .exec<{ id: number }>("SELECT id FROM items WHERE status = 0 ORDER BY id LIMIT ?", limit)
        .toArray()
        .map((r) => r.id);
      const createdAt = new Date().toISOString().slice(0, -1);
      return ids.map((id) => {
        this.sql.exec("UPDATE items SET status = 1 WHERE id = ?", id);
        return {
          state_id: id.toString(16).padStart(24, "0"),
          node_name: NODE_NAME,
          identifier: "processor",
          inputs: { data: `[${id + 1}]` },
          created_at: createdAt,
        };
      });
    });
  }

  /** Marks one claimed item done; false when it was not claimed (a duplicate or unknown report). */
  executed(id: number): boolean {
    return (
      this.sql.exec("UPDATE items SET status = 2, done_at = ? WHERE id = ? AND status = 1", Date.now(), id)
        .rowsWritten > 0
    );
  }

  status(): { n: number; done: number; doneAt: number | null } {
    const row = this.sql
      .exec<{ n: number; done: number | null; doneAt: number | null }>(
        "SELECT count(*) AS n, sum(status = 2) AS done, max(done_at) AS doneAt FROM items",
      )
      .one();
    return { n: row.n, done: row.done ?? 0, doneAt: row.doneAt };
  }
}

const positiveInt = (v: string | null): number | null => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : null;
};

async function jsonOf(request: Request): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await request.json();
    return typeof body === "object" && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Routes `/pull-floor/...`; `parts` are the path's segments. Exosphere's Python SDK, given
 * `/pull-floor/{job}` as its state manager, asks `/pull-floor/{job}/v0/namespace/{ns}/...`: the same
 * routes, and its node registration is answered without a write.
 */
export async function pullFloorFetch(
  request: Request,
  env: PullFloorEnv,
  segments: string[],
): Promise<Response> {
  const sdkPath = segments[2] === "v0" && segments[3] === "namespace" && segments.length > 5;
  const parts = sdkPath ? [...segments.slice(0, 2), ...segments.slice(5)] : segments;
  if (sdkPath && request.method === "PUT" && parts[2] === "nodes") {
    return Response.json({ runtime_name: "pull-floor", registered_nodes: [] });
  }
  const job = parts[1];
  if (!job) return Response.json({ error: "not found" }, { status: 404 });
  const floor = env.PULL_FLOOR.getByName(job);
  const url = new URL(request.url);
  if (request.method === "POST" && parts[2] === "setup" && parts.length === 3) {
    const n = positiveInt(url.searchParams.get("n"));
    if (n === null) return Response.json({ error: "n must be a positive integer" }, { status: 400 });
    return Response.json({ rows: await floor.setup(n) });
  }
  if (request.method === "POST" && parts[2] === "states" && parts[3] === "enqueue") {
    const body = await jsonOf(request);
    const batch = body?.batch_size;
    if (typeof batch !== "number" || !Number.isInteger(batch) || !Array.isArray(body?.nodes)) {
      return Response.json({ detail: "nodes and an integer batch_size are required" }, { status: 422 });
    }
    const states = batch > 0 && body.nodes.includes(NODE_NAME) ? await floor.take(batch) : [];
    return Response.json({ count: states.length, namespace: job, status: "QUEUED", states });
  }
  if (request.method === "POST" && parts[2] === "state" && parts[4] === "executed" && parts[3]) {
    const body = await jsonOf(request);
    if (!Array.isArray(body?.outputs))
      return Response.json({ detail: "outputs is required" }, { status: 422 });
    const id = Number.parseInt(parts[3], 16);
    if (!Number.isSafeInteger(id)) return Response.json({ detail: "State not found" }, { status: 404 });
    if (!(await floor.executed(id))) return Response.json({ detail: "State is not queued" }, { status: 400 });
    return Response.json({ status: "EXECUTED" });
  }
  if (request.method === "GET" && parts.length === 2) return Response.json(await floor.status());
  return Response.json({ error: "not found" }, { status: 404 });
}
