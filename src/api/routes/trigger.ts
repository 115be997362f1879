// `POST /v0/namespace/{ns}/graph/{g}/trigger` (spec §2.8): the namespace actor snapshots the template and
// records the run; the run actor, addressed by the run id alone, takes it from there.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { unwrap } from "../../engine/errors";
import { runKeyOfRunId } from "../../engine/ids";
import { triggerBodySchema } from "../../engine/template/request-schema";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";

export const triggerRoutes = new Hono<AppEnv>().post(
  "/v0/namespace/:namespace/graph/:graph/trigger",
  jsonBody(triggerBodySchema),
  async (c) => {
    const namespace = c.req.param("namespace");
    const bootstrap = unwrap(
      await namespaceStub(c.env, namespace).prepareRun(namespace, c.req.param("graph"), c.get("body")),
    );
    const runKey = runKeyOfRunId(bootstrap.run_id);
    if (runKey === null) throw new Error("namespace actor produced a malformed run id");
    await c.env.RUN.getByName(runKey).start(bootstrap);
    // Exactly 200: the Python SDK treats any other status as a failed trigger. `warnings` (our extension,
    // only when there is one) names what the trigger asked for that was ignored.
    const { warnings } = bootstrap;
    return c.json({ status: "CREATED", run_id: bootstrap.run_id, ...(warnings ? { warnings } : {}) }, 200);
  },
);
