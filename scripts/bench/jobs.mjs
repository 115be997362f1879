// The benchmark's three jobs, each timed from the request that starts it to the moment the benchmark
// observes it finished (polling one object per job with an interval that grows with the elapsed time: 2 %
// of it, at least 10 ms, so a job of a fraction of a second is observed up to 10 ms late, whichever job).
import { performance } from "node:perf_hooks";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Poll interval: light on the system under test, fine-grained enough not to distort short jobs. */
const pollInterval = (elapsedMs) => Math.min(1000, Math.max(10, elapsedMs / 50));

export class JobError extends Error {}

export async function call(base, path, { method = "GET", headers = {}, body, timeoutMs = 600_000 } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new JobError(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

/** Polls `probe` until it answers a non-undefined value, or throws after `timeoutMs`. */
export async function until(probe, t0, timeoutMs, what) {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    const elapsed = performance.now() - t0;
    if (elapsed > timeoutMs)
      throw new JobError(`${what}: not finished after ${Math.round(elapsed / 1000)} s`);
    await sleep(pollInterval(elapsed));
  }
}

export const jobTimeoutMs = (n) => 120_000 + n * 20;

/**
 * Triggers a run of `graphName` and polls the run's own view until it shows no pending state: answers the
 * run id, its row of the namespace's runs list (Exosphere's route, read once at the end) and the seconds
 * from the trigger request to that moment. The runs list itself is not polled: it asks every run of the
 * namespace for its counts, so polling it would cost the engine more with every earlier run.
 */
export async function triggerAndWait({ base, headers, ns, graphName, body, n, what }) {
  const t0 = performance.now();
  const { run_id: runId } = await call(base, `/v0/namespace/${ns}/graph/${graphName}/trigger`, {
    method: "POST",
    headers,
    body,
  });
  await until(
    async () => {
      const view = await call(base, `/v0/namespace/${ns}/states/run/${runId}/nodes`, { headers });
      return view.pending_count === 0 && view.status !== "PENDING" ? view : undefined;
    },
    t0,
    jobTimeoutMs(n),
    what,
  );
  const seconds = (performance.now() - t0) / 1000;
  const page = await call(base, `/v0/namespace/${ns}/runs/1/1000`, { headers });
  const row = page.runs.find((x) => x.run_id === runId);
  if (!row) throw new JobError(`${what}: run ${runId} is not in the namespace's runs list`);
  return { runId, row, seconds };
}

/**
 * exoflare: the seed's split → process → merge graph under a fresh name, chunk size 1 (n branches),
 * timed from the trigger request until the run shows no pending state; then the counts, the merged
 * total and the run actor's cost counters are checked and read.
 */
export async function exoflareJob({ base, apiKey, n, graph, ids }) {
  const headers = { "x-api-key": apiKey };
  const ns = "examples";
  const graphName = `bench-${n}-${Date.now().toString(36)}`;
  const upserted = await call(base, `/v0/namespace/${ns}/graph/${graphName}`, {
    method: "PUT",
    headers,
    body: graph,
  });
  if (upserted.validation_status !== "VALID") {
    throw new JobError(`graph did not validate: ${JSON.stringify(upserted.validation_errors)}`);
  }
  const data = JSON.stringify(Array.from({ length: n }, (_, i) => i + 1));
  const body = JSON.stringify({ inputs: { data, chunk_size: "1" } });

  const { runId, row, seconds } = await triggerAndWait({
    base,
    headers,
    ns,
    graphName,
    body,
    n,
    what: `exoflare n=${n}`,
  });

  const errors = [];
  const states = 2 * n + 1; // n splitter states (head + clones), n processors, one merger
  if (row.status !== "SUCCESS") errors.push(`run status ${row.status}, expected SUCCESS`);
  if (row.total_count !== states) errors.push(`total_count ${row.total_count}, expected ${states}`);
  if (row.success_count !== states) errors.push(`success_count ${row.success_count}, expected ${states}`);
  const { merged, merger } = await mergedTotal({ base, headers, ns, graphName, runId, row, ids });
  const expected = String((BigInt(n) * BigInt(n + 1)) / 2n);
  if (merged !== expected) errors.push(`merged ${merged}, expected ${expected}`);
  if (n >= 2) {
    // The splitter's first fan-out clone (in the run actor, or in a shard when its branches go there from
    // the first output) must show the inputs of the state it was cloned from.
    const splitters = await call(
      base,
      `/v0/namespace/${ns}/states/run/${runId}/graph?identifier=data_splitter&limit=2`,
      { headers },
    );
    const cloneId = splitters.nodes?.find((s) => s.id !== ids.stateIdOf(ids.runKeyOfRunId(runId), 1))?.id;
    if (!cloneId) errors.push("the run's graph shows no fan-out clone of the splitter");
    else {
      const clone = await call(base, `/v0/namespace/${ns}/graph/${graphName}/run/${runId}/node/${cloneId}`, {
        headers,
      });
      if (clone.identifier !== "data_splitter" || clone.inputs?.data !== data) {
        errors.push(`fan-out clone ${cloneId} does not show the splitter's inputs`);
      }
    }
  }
  // Where the time went, from the engine's own timestamps: the splitter's head settles when its fan-out
  // has been applied; the merger is created when the last branch settles, and updated when it is done.
  const head = await call(
    base,
    `/v0/namespace/${ns}/graph/${graphName}/run/${runId}/node/${ids.stateIdOf(ids.runKeyOfRunId(runId), 1)}`,
    { headers },
  );
  const ms = (iso) => Date.parse(`${iso}Z`);
  const phases = merger
    ? {
        splitSeconds: (ms(head.updated_at) - ms(head.created_at)) / 1000,
        branchesSeconds: (ms(merger.created_at) - ms(head.updated_at)) / 1000,
        mergeSeconds: (ms(merger.updated_at) - ms(merger.created_at)) / 1000,
      }
    : null;
  const costs = await call(base, `/v0/namespace/${ns}/states/run/${runId}/costs`, { headers });
  return { seconds, runId, states, merged, expected, costs, phases, errors };
}

/**
 * The merger's output. It is the last state the run creates, so its id (self-routing: run key + seq)
 * is known without listing the run's graph; the big graph view is the fallback.
 */
async function mergedTotal({ base, headers, ns, graphName, runId, row, ids }) {
  const nodePath = (id) => `/v0/namespace/${ns}/graph/${graphName}/run/${runId}/node/${id}`;
  const lastId = ids.stateIdOf(ids.runKeyOfRunId(runId), row.total_count);
  const last = await call(base, nodePath(lastId), { headers }).catch(() => undefined);
  if (last?.identifier === "merger") return { merged: last.outputs?.merged, merger: last };
  const view = await call(base, `/v0/namespace/${ns}/states/run/${runId}/graph?identifier=merger`, {
    headers,
  });
  const mergers = view.nodes.filter((s) => s.identifier === "merger");
  if (mergers.length !== 1) return { merged: `${mergers.length} merger states`, merger: null };
  const merger = await call(base, nodePath(mergers[0].id), { headers });
  return { merged: merger.outputs?.merged, merger };
}

/** Cloudflare Workflows: one instance runs split, n `step.do` in Promise.all, merge. */
export async function workflowJob({ base, n }) {
  const t0 = performance.now();
  const { id } = await call(base, `/workflow?n=${n}`, { method: "POST" });
  const status = await until(
    async () => {
      const s = await call(base, `/workflow/${id}`);
      return ["queued", "running", "waiting", "paused", "waitingForPause", "unknown"].includes(s.status)
        ? undefined
        : s;
    },
    t0,
    jobTimeoutMs(n),
    `workflows n=${n}`,
  );
  const seconds = (performance.now() - t0) / 1000;
  const expected = (n * (n + 1)) / 2;
  const errors = [];
  if (status.status !== "complete") errors.push(`instance ${status.status}: ${JSON.stringify(status.error)}`);
  else if (status.output?.total !== expected)
    errors.push(`total ${status.output?.total}, expected ${expected}`);
  return { seconds, instanceId: id, merged: status.output?.total, expected, errors };
}

/** Floor: n messages through one queue into one actor's SQLite rows (rows inserted before timing). */
export async function floorJob({ base, n }) {
  const job = `floor-${n}-${Date.now().toString(36)}`;
  await call(base, `/floor/${job}/setup?n=${n}`, { method: "POST" });
  const t0 = performance.now();
  await call(base, `/floor/${job}/run`, { method: "POST" });
  const status = await until(
    async () => {
      const s = await call(base, `/floor/${job}`);
      return s.done === n ? s : undefined;
    },
    t0,
    jobTimeoutMs(n),
    `floor n=${n}`,
  );
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, insideSeconds: (status.doneAt - status.firstSendAt) / 1000, errors: [] };
}
