// Looking into one run: its state graph (spec §2.17) and one state's details (spec §2.18). Both go to
// the run actor named by the id in the path; nothing global is consulted.
import { Hono } from "hono";
import { NotFoundError, ValidationError } from "../../engine/errors";
import { parseStateId, runKeyOfRunId } from "../../engine/ids";
import { emptyGraphStructure, type NodeDetailsView } from "../../engine/run/views";
import type { AppEnv } from "../env";

export const runInspectRoutes = new Hono<AppEnv>()
  .get("/v0/namespace/:namespace/states/run/:run_id/graph", async (c) => {
    const runKey = runKeyOfRunId(c.req.param("run_id"));
    // Exosphere answers an unknown run with the empty view; a malformed id cannot name a run either.
    if (runKey === null) return c.json(emptyGraphStructure());
    return c.json(await c.env.RUN.getByName(runKey).graphView(c.req.param("namespace")));
  })
  .get("/v0/namespace/:namespace/graph/:graph/run/:run_id/node/:node_id", async (c) => {
    const { namespace, graph, run_id: runId, node_id: nodeId } = c.req.param();
    const id = parseStateId(nodeId);
    if (id === null) throw new ValidationError(`Invalid node ID format: ${nodeId}`);
    const missing = () => new NotFoundError(`Node ${nodeId} not found in run ${runId} for graph ${graph}`);
    if (runKeyOfRunId(runId) !== id.runKey) throw missing();
    // RPC typing cannot express `unknown` output values; the actor returns a NodeDetailsView.
    const details = (await c.env.RUN.getByName(id.runKey).stateDetails(
      id.seq,
      graph,
      namespace,
    )) as NodeDetailsView | null;
    if (details === null || details.run_id !== runId) throw missing();
    return c.json(details);
  });
