// The latency row: the seed graph with 10 items (10 branches), trigger → SUCCESS, repeated, beside the
// same job as a Cloudflare Workflow. Each run is watched on its own (the run's live view, the instance's
// status) every few milliseconds, so the figure is the engine's latency, not the benchmark's polling.
import { performance } from "node:perf_hooks";
import { call, JobError } from "./jobs.mjs";

const POLL_MS = 2;
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

/** exoflare: `runs` runs of the seed graph over `n` items, each timed from its trigger to SUCCESS. */
export async function exoflareLatency({ base, apiKey, graph, n = 10, runs = 20 }) {
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
  return timed(runs, async () => {
    const { run_id: runId } = await call(base, `/v0/namespace/${ns}/graph/${graphName}/trigger`, {
      method: "POST",
      headers,
      body: { inputs },
    });
    for (;;) {
      const view = await call(base, `/v0/namespace/${ns}/states/run/${runId}/nodes`, { headers });
      if (view.status !== "PENDING") {
        return view.status === "SUCCESS" && view.success_count === 2 * n + 1
          ? undefined
          : `run ${view.status} with ${view.success_count} successful states`;
      }
      await sleep(POLL_MS);
    }
  });
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
