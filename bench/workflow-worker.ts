// The benchmark's comparison Worker. Two jobs that `npm run bench` sets beside exoflare's:
//
// - Workflows: the seed's split → process → merge job as a Cloudflare Workflow: a split step, one
//   `step.do` per item in `Promise.all`, a merge step. The Workflow's output is the merged total.
// - Floor: the least work any design must do for n branches: n messages through one Queue into a
//   consumer that marks n SQLite rows done in one Durable Object, one RPC (one transaction) per consumer
//   batch, with no orchestration at all.
//
// HTTP (127.0.0.1 only, no auth: it runs only under `wrangler dev` for the benchmark):
//   GET  /health                    → { ok: true }
//   POST /workflow?n=N              → { id }            create a Workflow instance
//   GET  /workflow/:id              → instance status   { status, output, error }
//   POST /floor/:job/setup?n=N      → { rows }          insert n rows, not done (not timed)
//   POST /floor/:job/run            → { sent }          send the n messages (timed by the caller)
//   GET  /floor/:job                → { n, done, firstSendAt, doneAt }
//   /pull-floor/...                 → the pull floor (pull-floor.ts)
import { DurableObject, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { type PullFloorEnv, pullFloorFetch } from "./pull-floor";

export { PullFloorActor } from "./pull-floor";

interface BenchEnv extends PullFloorEnv {
  SPLIT_PROCESS_MERGE: Workflow<{ n: number }>;
  FLOOR: DurableObjectNamespace<FloorActor>;
  FLOOR_QUEUE: Queue<FloorMessage>;
}

interface FloorMessage {
  job: string;
  row: number;
}

/** Items per sendBatch call (the platform's maximum), and calls in flight at once (as the engine). */
const SEND_BATCH = 100;
const SEND_CONCURRENCY = 4;

export class SplitProcessMergeWorkflow extends WorkflowEntrypoint<BenchEnv, { n: number }> {
  override async run(event: WorkflowEvent<{ n: number }>, step: WorkflowStep): Promise<{ total: number }> {
    const n = event.payload.n;
    // Chunk size 1, as in the exoflare job: item i is one branch whose "processing" sums one number.
    const chunks = await step.do("split", async () => Array.from({ length: n }, (_, i) => [i + 1]));
    const sums = await Promise.all(
      chunks.map((chunk, i) => step.do(`process-${i}`, async () => chunk.reduce((a, b) => a + b, 0))),
    );
    const total = await step.do("merge", async () => sums.reduce((a, b) => a + b, 0));
    return { total };
  }
}

export class FloorActor extends DurableObject<BenchEnv> {
  private readonly sql = this.ctx.storage.sql;

  constructor(ctx: DurableObjectState, env: BenchEnv) {
    super(ctx, env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, done INTEGER NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS job (k TEXT PRIMARY KEY, v INTEGER)");
  }

  setup(n: number): number {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM items");
      this.sql.exec("DELETE FROM job");
      for (let i = 0; i < n; i++) this.sql.exec("INSERT INTO items (id, done) VALUES (?, 0)", i);
      this.put("n", n);
      this.put("done", 0);
    });
    return n;
  }

  started(at: number): void {
    this.put("firstSendAt", at);
  }

  /** Marks a consumer batch's rows done in one transaction; idempotent under redelivery. */
  markDone(rows: number[]): void {
    this.ctx.storage.transactionSync(() => {
      let changed = 0;
      for (const row of rows) {
        changed += this.sql.exec("UPDATE items SET done = 1 WHERE id = ? AND done = 0", row).rowsWritten;
      }
      const done = (this.get("done") ?? 0) + changed;
      this.put("done", done);
      if (done === this.get("n")) this.put("doneAt", Date.now());
    });
  }

  status(): { n: number | null; done: number | null; firstSendAt: number | null; doneAt: number | null } {
    return {
      n: this.get("n"),
      done: this.get("done"),
      firstSendAt: this.get("firstSendAt"),
      doneAt: this.get("doneAt"),
    };
  }

  private get(k: string): number | null {
    return this.sql.exec<{ v: number | null }>("SELECT v FROM job WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  private put(k: string, v: number): void {
    this.sql.exec("INSERT INTO job (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }
}

async function sendAll(env: BenchEnv, job: string, n: number): Promise<void> {
  const batches: FloorMessage[][] = [];
  for (let i = 0; i < n; i += SEND_BATCH) {
    batches.push(Array.from({ length: Math.min(SEND_BATCH, n - i) }, (_, k) => ({ job, row: i + k })));
  }
  for (let i = 0; i < batches.length; i += SEND_CONCURRENCY) {
    await Promise.all(
      batches
        .slice(i, i + SEND_CONCURRENCY)
        .map((batch) => env.FLOOR_QUEUE.sendBatch(batch.map((body) => ({ body, contentType: "json" })))),
    );
  }
}

const positiveInt = (v: string | null): number | null => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : null;
};

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean);
    const n = positiveInt(url.searchParams.get("n"));
    if (url.pathname === "/health") return Response.json({ ok: true });
    if (parts[0] === "workflow") {
      if (request.method === "POST" && parts.length === 1) {
        if (n === null) return Response.json({ error: "n must be a positive integer" }, { status: 400 });
        const instance = await env.SPLIT_PROCESS_MERGE.create({ params: { n } });
        return Response.json({ id: instance.id });
      }
      if (request.method === "GET" && parts.length === 2 && parts[1]) {
        const { status, output, error } = await (await env.SPLIT_PROCESS_MERGE.get(parts[1])).status();
        // Only these: local dev adds every step's output to the status, far too much to poll.
        return Response.json({ status, output, error });
      }
    }
    if (parts[0] === "pull-floor") return pullFloorFetch(request, env, parts);
    if (parts[0] === "floor" && parts[1]) {
      const job = parts[1];
      const floor = env.FLOOR.getByName(job);
      if (request.method === "POST" && parts[2] === "setup") {
        if (n === null) return Response.json({ error: "n must be a positive integer" }, { status: 400 });
        return Response.json({ rows: await floor.setup(n) });
      }
      if (request.method === "POST" && parts[2] === "run") {
        const status = await floor.status();
        if (status.n === null) return Response.json({ error: "set the job up first" }, { status: 409 });
        await floor.started(Date.now());
        // Sending continues after the response; the caller polls GET /floor/:job until every row is done.
        ctx.waitUntil(sendAll(env, job, status.n));
        return Response.json({ sending: status.n });
      }
      if (request.method === "GET" && parts.length === 2) return Response.json(await floor.status());
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },

  async queue(batch, env): Promise<void> {
    // One RPC per job per consumer batch (in the benchmark a batch holds one job's messages).
    const byJob = new Map<string, number[]>();
    for (const m of batch.messages) {
      const rows = byJob.get(m.body.job) ?? [];
      rows.push(m.body.row);
      byJob.set(m.body.job, rows);
    }
    await Promise.all([...byJob].map(([job, rows]) => env.FLOOR.getByName(job).markDone(rows)));
    batch.ackAll();
  },
} satisfies ExportedHandler<BenchEnv, FloorMessage>;
