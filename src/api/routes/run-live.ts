// The live run view (our extension, not in Exosphere's API): a run's nodes with their states counted by
// status, once (`.../nodes`) or as a stream of server-sent events (`.../events`) that follows the run
// until it stops. The stream asks the run actor once per RUN_EVENTS_INTERVAL_MS while the client stays
// connected and sends only what changed; the run actor's per-node counts are cached, so a run watched by
// many costs what it costs watched by one. Clients read the stream with `fetch` (the API key travels in
// the `x-api-key` header, as everywhere: never in a URL).
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { RunNodesView } from "../../contracts";
import { NotFoundError } from "../../engine/errors";
import { runKeyOfRunId } from "../../engine/ids";
import { RUN_EVENTS_INTERVAL_MS, RUN_EVENTS_KEEPALIVE_MS, RUN_EVENTS_MAX_MS } from "../../engine/limits";
import type { AppEnv } from "../env";
import { describeWaiting } from "../waiting";

const RUN_PATH = "/v0/namespace/:namespace/states/run/:run_id";

async function nodesViewOf(env: Env, namespace: string, runId: string): Promise<RunNodesView | null> {
  const runKey = runKeyOfRunId(runId);
  if (runKey === null) return null;
  const view = await env.RUN.getByName(runKey).nodesView(namespace);
  // Two run ids can share a run key only by a uuid collision; the id itself decides.
  if (view === null || view.run_id !== runId) return null;
  const waiting = await describeWaiting(env, view.waiting);
  return waiting ? { ...view, waiting } : view;
}

async function requireView(env: Env, namespace: string, runId: string): Promise<RunNodesView> {
  const view = await nodesViewOf(env, namespace, runId);
  if (view === null) throw new NotFoundError(`Run ${runId} not found`);
  return view;
}

/** Whether the run has stopped changing by itself (SUCCESS, FAILED, or any later terminal status). */
const stopped = (view: RunNodesView) => view.status !== "PENDING";

/**
 * Sends `progress` events (a RunNodesView each) while the run goes, only when something changed; `end`
 * once it stopped. A stream that reaches RUN_EVENTS_MAX_MS closes without `end`: the client reconnects.
 */
async function follow(
  stream: SSEStreamingApi,
  first: RunNodesView,
  next: () => Promise<RunNodesView | null>,
): Promise<void> {
  const deadline = Date.now() + RUN_EVENTS_MAX_MS;
  let view: RunNodesView | null = first;
  let sent = "";
  let quietSince = Date.now();
  while (view !== null && !stream.aborted) {
    const data = JSON.stringify(view);
    if (data !== sent) {
      await stream.writeSSE({ event: "progress", data });
      sent = data;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= RUN_EVENTS_KEEPALIVE_MS) {
      await stream.write(": keep-alive\n\n");
      quietSince = Date.now();
    }
    if (stopped(view)) {
      await stream.writeSSE({ event: "end", data: JSON.stringify({ status: view.status }) });
      return;
    }
    if (Date.now() + RUN_EVENTS_INTERVAL_MS >= deadline) return;
    await stream.sleep(RUN_EVENTS_INTERVAL_MS);
    if (stream.aborted) return;
    view = await next();
  }
}

export const runLiveRoutes = new Hono<AppEnv>()
  .get(`${RUN_PATH}/nodes`, async (c) => {
    const { namespace, run_id: runId } = c.req.param();
    return c.json(await requireView(c.env, namespace, runId));
  })
  .get(`${RUN_PATH}/events`, async (c) => {
    const { namespace, run_id: runId } = c.req.param();
    // Refusals (unknown run, another namespace) are plain JSON answers, before any stream starts.
    const first = await requireView(c.env, namespace, runId);
    const requestId = c.get("requestId");
    return streamSSE(c, async (stream) => {
      try {
        await follow(stream, first, () => nodesViewOf(c.env, namespace, runId));
      } catch (e) {
        // The stream is already open: say that it failed, without internals, and close it; the client
        // reconnects. Logged like any unhandled error, by name only.
        console.error(`run event stream failed, request id ${requestId}`, {
          requestId,
          name: e instanceof Error ? e.name : typeof e,
        });
        await stream.writeSSE({ event: "error", data: JSON.stringify({ request_id: requestId }) });
      }
    });
  });
