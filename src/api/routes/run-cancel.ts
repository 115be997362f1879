// `POST /v0/namespace/{ns}/states/run/{run_id}/cancel` (our extension, run control): cancels a run in its
// run actor, which tells its branch shards. Idempotent; 404 for a run it does not know, 409 for a
// finished one.
import { Hono } from "hono";
import { NotFoundError, unwrap } from "../../engine/errors";
import { runKeyOfRunId } from "../../engine/ids";
import type { AppEnv } from "../env";

export const runCancelRoutes = new Hono<AppEnv>().post(
  "/v0/namespace/:namespace/states/run/:run_id/cancel",
  async (c) => {
    const runId = c.req.param("run_id");
    const runKey = runKeyOfRunId(runId);
    if (runKey === null) throw new NotFoundError(`Run ${runId} not found`);
    const result = await c.env.RUN.getByName(runKey).cancel(runId, c.req.param("namespace"));
    return c.json(unwrap(result), 200);
  },
);
