// Looking into one run: its state graph (spec §2.17) and one state's details (spec §2.18). Both go to
// the run actor named by the id in the path; nothing global is consulted.
import { Hono } from "hono";
import { ApiError, notFound as runNotFound } from "../../engine/errors";
import { parseStateId, runKeyOfRunId } from "../../engine/ids";
import type { NodeDetailsView } from "../../engine/run/views";
import type { AppEnv } from "../env";

export const runInspectRoutes = new Hono<AppEnv>()
  .get("/v0/namespace/:namespace/states/run/:run_id/graph", async (c) => {
    const runId = c.req.param("run_id");
    const runKey = runKeyOfRunId(runId);
    // Exosphere answers the empty view for an id that names no run; a typo deserves a 404 (as the costs
    // route answers). A run of another namespace still shows only that namespace's states (none).
    if (runKey === null) throw runNotFound(`Run ${runId} not found`);
    const run = c.env.RUN.getByName(runKey);
    const [summary, view] = await Promise.all([run.summary(), run.graphView(c.req.param("namespace"))]);
    if (summary === null || summary.run_id !== runId) throw runNotFound(`Run ${runId} not found`);
    // Our extension: the trigger's warnings, where the run is described (only when there is one).
    return c.json(summary.warnings ? { ...view, warnings: summary.warnings } : view);
  })
  .get("/v0/namespace/:namespace/graph/:graph/run/:run_id/node/:node_id", async (c) => {
    const { namespace, graph, run_id: runId, node_id: nodeId } = c.req.param();
    const id = parseStateId(nodeId);
    if (id === null) throw new ApiError(400, `Invalid node ID format: ${nodeId}`);
    const notFound = new ApiError(404, `Node ${nodeId} not found in run ${runId} for graph ${graph}`);
    if (runKeyOfRunId(runId) !== id.runKey) throw notFound;
    // RPC typing cannot express `unknown` output values; the actor returns a NodeDetailsView.
    const details = (await c.env.RUN.getByName(id.runKey).stateDetails(
      id.seq,
      graph,
      namespace,
    )) as NodeDetailsView | null;
    if (details === null || details.run_id !== runId) throw notFound;
    return c.json(details);
  });
