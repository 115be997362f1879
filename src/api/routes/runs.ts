// `GET /v0/namespace/{ns}/runs/{page}/{size}` (spec §2.16). The namespace actor pages its run index;
// each listed run's counts come from its own run actor, asked in parallel.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import type { RunIndexEntry, RunSummary } from "../../contracts";
import { runKeyOfRunId } from "../../engine/ids";
import { MAX_RUNS_PAGE, MAX_RUNS_PAGE_SIZE } from "../../engine/limits";
import type { AppEnv } from "../env";
import { intPathParam } from "../validation/path-params";
import { describeWaiting } from "../waiting";

export const runsRoutes = new Hono<AppEnv>().get("/v0/namespace/:namespace/runs/:page/:size", async (c) => {
  const namespace = c.req.param("namespace");
  const page = intPathParam("page", c.req.param("page"), { min: 1, max: MAX_RUNS_PAGE });
  const size = intPathParam("size", c.req.param("size"), { min: 1, max: MAX_RUNS_PAGE_SIZE });
  const index = await namespaceStub(c.env, namespace).listRuns(page, size);
  const runs = await Promise.all(index.runs.map((entry) => runView(c.env, entry)));
  return c.json({ namespace, total: index.total, page, size, runs });
});

async function runView(env: Env, entry: RunIndexEntry) {
  const runKey = runKeyOfRunId(entry.run_id);
  const found: RunSummary | null = runKey === null ? null : await env.RUN.getByName(runKey).summary();
  // The actor is named by the id's first 16 hex digits: its counts are this run's only if the whole id
  // matches.
  const summary = found?.run_id === entry.run_id ? found : null;
  const waiting = await describeWaiting(env, summary?.waiting);
  // A run whose start is pending (the namespace actor's alarm will start it) is PENDING; one whose actor
  // holds no states otherwise shows zero counts and FAILED, as in Exosphere.
  return {
    run_id: entry.run_id,
    graph_name: entry.graph_name,
    success_count: summary?.success_count ?? 0,
    pending_count: summary?.pending_count ?? 0,
    errored_count: summary?.errored_count ?? 0,
    retried_count: summary?.retried_count ?? 0,
    total_count: summary?.total_count ?? 0,
    ...(summary?.cancelled_count ? { cancelled_count: summary.cancelled_count } : {}),
    status: summary?.status ?? (entry.starting ? "PENDING" : "FAILED"),
    created_at: entry.created_at,
    // Our extension: what a run that stopped moving waits on (only then).
    ...(waiting ? { waiting } : {}),
  };
}
