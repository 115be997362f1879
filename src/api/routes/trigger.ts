// `POST /v0/namespace/{ns}/graph/{g}/trigger` (spec §2.8): the namespace actor snapshots the template,
// records the run with its start pending, and starts the run actor (see namespace-starts.ts), so a run it
// answers always comes to exist. Our extension: an `Idempotency-Key` header, whose repeats within 24 hours
// answer the first request's run and start no other.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { unwrap } from "../../engine/errors";
import { MAX_IDEMPOTENCY_KEY_CHARS } from "../../engine/limits";
import { triggerBodySchema } from "../../engine/template/request-schema";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
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
  jsonBody(triggerBodySchema),
  async (c) => {
    const namespace = c.req.param("namespace");
    const key = idempotencyKey(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const answer = unwrap(
      await namespaceStub(c.env, namespace).trigger(namespace, c.req.param("graph"), c.get("body"), key),
    );
    if (answer.replayed) c.header(IDEMPOTENT_REPLAYED_HEADER, "true");
    // Exactly 200: the Python SDK treats any other status as a failed trigger. `warnings` (our extension,
    // only when there is one) names what the trigger asked for that was ignored.
    const { run_id: runId, warnings } = answer;
    return c.json({ status: "CREATED", run_id: runId, ...(warnings ? { warnings } : {}) }, 200);
  },
);
