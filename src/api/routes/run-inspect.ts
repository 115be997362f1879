// Looking into one run: its state graph (spec §2.17) and one state's details (spec §2.18). Both go to
// the run actor named by the id in the path; nothing global is consulted.
import { Hono } from "hono";
import { NotFoundError, ValidationError } from "../../engine/errors";
import { parseStateId, runKeyOfRunId } from "../../engine/ids";
import { MAX_GRAPH_PAGE_STATES } from "../../engine/limits";
import { type NodeDetailsParts, nodeDetailsText } from "../../engine/run/views";
import type { AppEnv } from "../env";
import { intPathParam, unprocessable } from "../validation/path-params";
import { servingOf } from "../waiting";

export const runInspectRoutes = new Hono<AppEnv>()
  .get("/v0/namespace/:namespace/states/run/:run_id/graph", async (c) => {
    const runId = c.req.param("run_id");
    const runKey = runKeyOfRunId(runId);
    // Our extension for big runs: `limit` states per answer, from after the state named by `cursor`.
    const rawLimit = c.req.query("limit");
    const limit =
      rawLimit === undefined
        ? MAX_GRAPH_PAGE_STATES
        : intPathParam("limit", rawLimit, { min: 1, max: MAX_GRAPH_PAGE_STATES }, "query");
    const rawCursor = c.req.query("cursor");
    const cursor = rawCursor === undefined ? null : parseStateId(rawCursor);
    if (rawCursor !== undefined && (cursor === null || cursor.runKey !== runKey)) {
      throw unprocessable({
        type: "value_error",
        loc: ["query", "cursor"],
        msg: "Value error, cursor must be a next_cursor this route answered for this run",
        input: rawCursor,
      });
    }
    // Exosphere answers the empty view for an id that names no run; a typo deserves a 404 (as the costs
    // route answers). A run of another namespace still shows only that namespace's states (none).
    if (runKey === null) throw new NotFoundError(`Run ${runId} not found`);
    const identifier = c.req.query("identifier") ?? null;
    const run = c.env.RUN.getByName(runKey);
    const [summary, view] = await Promise.all([
      run.summary(),
      run.graphView(c.req.param("namespace"), cursor?.seq ?? 0, limit, identifier),
    ]);
    if (summary === null || summary.run_id !== runId) throw new NotFoundError(`Run ${runId} not found`);
    // Our extension: the trigger's warnings, where the run is described (only when there is one).
    return c.json(summary.warnings ? { ...view, warnings: summary.warnings } : view);
  })
  .get("/v0/namespace/:namespace/graph/:graph/run/:run_id/node/:node_id", async (c) => {
    const { namespace, graph, run_id: runId, node_id: nodeId } = c.req.param();
    const id = parseStateId(nodeId);
    if (id === null) throw new ValidationError(`Invalid node ID format: ${nodeId}`);
    const missing = () => new NotFoundError(`Node ${nodeId} not found in run ${runId} for graph ${graph}`);
    if (runKeyOfRunId(runId) !== id.runKey) throw missing();
    // RPC typing cannot express `unknown` output values; the actor returns NodeDetailsParts.
    const state = (await c.env.RUN.getByName(id.actor).stateDetails(
      id.seq,
      graph,
      namespace,
    )) as NodeDetailsParts | null;
    if (state === null || state.details.run_id !== runId) throw missing();
    const { details } = state;
    if (details.status !== "CREATED" && details.status !== "QUEUED") return jsonText(nodeDetailsText(state));
    // Our extension: a state that waits says who should serve its node and when a runtime last did.
    const serving = await servingOf(c.env, [{ namespace, node_name: details.node_name }]);
    return jsonText(
      nodeDetailsText(state, {
        waiting_since: details.updated_at,
        served_by: serving(namespace, details.node_name),
      }),
    );
  });

/**
 * A 200 JSON answer streamed from the parts of its text: a state's inputs of megabytes are sent as they
 * are stored, in chunks, never joined, parsed or serialized again in the engine.
 */
function jsonText(parts: string[]): Response {
  const encoder = new TextEncoder();
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[next++];
      if (part === undefined) controller.close();
      else controller.enqueue(encoder.encode(part));
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}
