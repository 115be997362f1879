// `GET /v0/namespace/{ns}/states/run/{run_id}/costs`: our extension, not in Exosphere's API. The run
// actor's cost counters (report RPCs, SQLite rows written, queue messages, sendBatch calls, ready-queue
// offers), counted where the work happens, so that the benchmark can show the cost per state.
import { Hono } from "hono";
import { NotFoundError } from "../../engine/errors";
import { runKeyOfRunId } from "../../engine/ids";
import type { AppEnv } from "../env";

export const runCostsRoutes = new Hono<AppEnv>().get(
  "/v0/namespace/:namespace/states/run/:run_id/costs",
  async (c) => {
    const runId = c.req.param("run_id");
    const runKey = runKeyOfRunId(runId);
    if (runKey === null) throw new NotFoundError(`Run ${runId} not found`);
    const run = c.env.RUN.getByName(runKey);
    const summary = await run.summary();
    if (summary === null || summary.run_id !== runId) throw new NotFoundError(`Run ${runId} not found`);
    return c.json({ run_id: runId, ...(await run.costs()) });
  },
);
