// The latency row: the seed graph with 10 items (10 branches), trigger → SUCCESS, repeated, beside the
// same job as a Cloudflare Workflow. Each engine is observed by the quickest means its API offers: an
// exoflare trigger that waits for its run's end (`wait_ms`, our extension) answers SUCCESS itself; a
// Workflow instance is watched every few milliseconds through its status, as an exoflare run also is in a
// second series (its live view, polled), so the figure is the engine's latency, not the benchmark's polling.
import { performance } from "node:perf_hooks";
import { call, JobError } from "./jobs.mjs";

const POLL_MS = 2;
/** How long a waiting trigger may wait (the engine's bound): a 10-branch run ends long before. */
const WAIT_MS = 20_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The median and the 95th percentile (nearest rank) of the samples, in ms. */
export function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return { medianMs: at(50), p95Ms: at(95) };
}

async function timed(runs, once) {
  const samples = [];
  const errors = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const error = await once();
    samples.push(performance.now() - t0);
    if (error) errors.push(error);
  }
  return { ...percentiles(samples), samples, errors: [...new Set(errors)] };
}

/**
 * exoflare: `runs` runs of the seed graph over `n` items, each timed from its trigger to SUCCESS: the
 * trigger's own answer with `wait`, else the first poll of the run's live view that shows it. A waited run
 * is checked afterwards, untimed, through the same view.
 */
export async function exoflareLatency({ base, apiKey, graph, n = 10, runs = 20, wait = false }) {
  const headers = { "x-api-key": apiKey };
  const ns = "examples";
  const graphName = `latency-${Date.now().toString(36)}`;
  const upserted = await call(base, `/v0/namespace/${ns}/graph/${graphName}`, {
    method: "PUT",
    headers,
    body: graph,
  });
  if (upserted.validation_status !== "VALID") throw new JobError("the seed graph did not validate");
  const inputs = { data: JSON.stringify(Array.from({ length: n }, (_, i) => i + 1)), chunk_size: "1" };
  const viewOf = (runId) => call(base, `/v0/namespace/${ns}/states/run/${runId}/nodes`, { headers });
  const wrong = (view) =>
    view.status === "SUCCESS" && view.success_count === 2 * n + 1
      ? undefined
      : `run ${view.status} with ${view.success_count} successful states`;
  const waited = [];
  const result = await timed(runs, async () => {
    const answer = await call(base, `/v0/namespace/${ns}/graph/${graphName}/trigger`, {
      method: "POST",
      headers,
      body: wait ? { inputs, wait_ms: WAIT_MS } : { inputs },
    });
    if (wait) {
      waited.push(answer.run_id);
      return answer.run_status === "SUCCESS" ? undefined : `trigger answered run_status ${answer.run_status}`;
    }
    for (;;) {
      const view = await viewOf(answer.run_id);
      if (view.status !== "PENDING") return wrong(view);
      await sleep(POLL_MS);
    }
  });
  for (const runId of waited) {
    const error = wrong(await viewOf(runId));
    if (error) result.errors = [...new Set([...result.errors, error])];
  }
  return result;
}

/** Cloudflare Workflows: the same job, `runs` instances one after another. */
export async function workflowLatency({ base, n = 10, runs = 20 }) {
  const done = (s) => !["queued", "running", "waiting", "paused", "waitingForPause", "unknown"].includes(s);
  return timed(runs, async () => {
    const { id } = await call(base, `/workflow?n=${n}`, { method: "POST" });
    for (;;) {
      const s = await call(base, `/workflow/${id}`);
      if (done(s.status)) {
        return s.status === "complete" && s.output?.total === (n * (n + 1)) / 2
          ? undefined
          : `instance ${s.status}`;
      }
      await sleep(POLL_MS);
    }
  });
}
