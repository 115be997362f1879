// `POST /v0/namespace/{ns}/graph/{g}/trigger` (spec §2.8): the namespace actor snapshots the template,
// records the run with its start pending, and starts the run actor (see namespace-starts.ts), so a run it
// answers always comes to exist. Our extension: an `Idempotency-Key` header, whose repeats within 24 hours
// answer the first request's run and start no other; and `wait_ms` in the body, which makes the request
// wait (at most that long) for the run to end and answer its status as `run_status`.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { unwrap } from "../../engine/errors";
import { runKeyOfRunId } from "../../engine/ids";
import { MAX_IDEMPOTENCY_KEY_CHARS } from "../../engine/limits";
import type { RunStatus } from "../../engine/model";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import { triggerRequestSchema } from "../schemas/request-bodies";
import { unprocessable } from "../validation/path-params";

export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Set on the answer to a request whose key was seen before: the run is the first request's. */
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";

/** Printable ASCII, no spaces: what a client generates (a uuid, a hash), and safe to store and log. */
const KEY_SHAPE = /^[\x21-\x7e]+$/;

function idempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length > MAX_IDEMPOTENCY_KEY_CHARS || !KEY_SHAPE.test(raw)) {
    throw unprocessable({
      type: "value_error",
      loc: ["header", IDEMPOTENCY_KEY_HEADER],
      msg: `Value error, Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters without spaces`,
      input: raw.slice(0, MAX_IDEMPOTENCY_KEY_CHARS),
    });
  }
  return raw;
}

export const triggerRoutes = new Hono<AppEnv>().post(
  "/v0/namespace/:namespace/graph/:graph/trigger",
  jsonBody(triggerRequestSchema),
  async (c) => {
    const namespace = c.req.param("namespace");
    const key = idempotencyKey(c.req.header(IDEMPOTENCY_KEY_HEADER));
    // How long to wait for the run's end is the request's, not the run's: the namespace actor (and the
    // idempotency key's fingerprint) never sees it.
    const { wait_ms: waitMs, ...body } = c.get("body");
    const answer = unwrap(
      await namespaceStub(c.env, namespace).trigger(namespace, c.req.param("graph"), body, key),
    );
    if (answer.replayed) c.header(IDEMPOTENT_REPLAYED_HEADER, "true");
    // Exactly 200: the Python SDK treats any other status as a failed trigger. `warnings` (our extension,
    // only when there is one) names what the trigger asked for that was ignored.
    const { run_id: runId, warnings } = answer;
    const ended = waitMs === undefined ? undefined : await runEnd(c.env, runId, waitMs);
    return c.json(
      {
        status: "CREATED",
        run_id: runId,
        ...(warnings ? { warnings } : {}),
        ...(ended ? { run_status: ended } : {}),
      },
      200,
    );
  },
);

/**
 * The run's status once it ended, or PENDING when `waitMs` passed first. The run exists (the trigger
 * answered its id); if its actor cannot be asked, the answer is PENDING and the client follows the run as
 * after any trigger.
 */
async function runEnd(env: Env, runId: string, waitMs: number): Promise<RunStatus> {
  const runKey = runKeyOfRunId(runId);
  if (runKey === null) return "PENDING";
  try {
    return (await env.RUN.getByName(runKey).awaitEnd(waitMs)) ?? "PENDING";
  } catch (e) {
    console.error(`waiting for run ${runId} to end failed`, e instanceof Error ? e.message : e);
    return "PENDING";
  }
}
