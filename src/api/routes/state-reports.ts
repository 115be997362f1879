// The runtime protocol for one state (spec §2.10–§2.15): executed, errored, prune, re-enqueue-after,
// manual-retry and secrets. The state id names its run actor (self-routing ids), so each request is one
// RPC to one run actor, which applies the report in one transaction. Our fixes over Exosphere: the
// path's namespace is checked, a malformed or unknown id is a 404 (never a 500), a report for a state
// that is no longer QUEUED is Exosphere's 400 and changes nothing, and requeueing a state that is not
// QUEUED (finished, or CREATED and unclaimed) is 409.
import { Hono } from "hono";
import { configOf } from "../../config";
import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  unwrap,
  ValidationError,
} from "../../engine/errors";
import { parseStateId } from "../../engine/ids";
import { exceedsBytes, MAX_STATE_VALUE_BYTES } from "../../engine/limits";
import type { StateStatus } from "../../engine/model";
import type { Report, ReportOutcome } from "../../engine/run/types";
import { secretsKeyFrom } from "../../engine/secrets";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import {
  erroredBodySchema,
  executedBodySchema,
  manualRetryBodySchema,
  pruneBodySchema,
  requeueBodySchema,
} from "../schemas/request-bodies";

const STATE_PATH = "/v0/namespace/:namespace/state/:state_id";

/** Statuses in which Exosphere's errored route says "State is already executed". */
const EXECUTED_ALREADY: ReadonlySet<StateStatus> = new Set<StateStatus>([
  "EXECUTED",
  "SUCCESS",
  "NEXT_CREATED_ERROR",
]);

const stateNotFound = () => new NotFoundError("State not found");

function stateRef(raw: string): { runKey: string; seq: number; actor: string } {
  const ref = parseStateId(raw);
  if (ref === null) throw stateNotFound();
  return ref;
}

/** Sends one report to the state's run actor, scoped to the path's namespace. */
async function report(
  env: Env,
  namespace: string,
  rawId: string,
  build: (seq: number) => Report,
): Promise<ReportOutcome> {
  const { actor, seq } = stateRef(rawId);
  const [outcome] = await env.RUN.getByName(actor).report([build(seq)], namespace);
  if (outcome === undefined) throw new Error("run actor answered no outcome for a report");
  if (!outcome.applied && outcome.reason === "not_found") throw stateNotFound();
  // Run control: a report for a state cancelled with its run is refused, and says why.
  if (!outcome.applied && outcome.status === "CANCELLED") {
    throw new ConflictError("State is CANCELLED: its run was cancelled, so its report is refused");
  }
  return outcome;
}

export const stateReportRoutes = new Hono<AppEnv>()
  .post(`${STATE_PATH}/executed`, jsonBody(executedBodySchema), async (c) => {
    const { outputs, page } = c.get("body");
    const big = outputs.findIndex((o) => exceedsBytes(JSON.stringify(o), MAX_STATE_VALUE_BYTES));
    // Refused before anything changes.
    if (big >= 0) {
      throw new PayloadTooLargeError(
        `Output ${big} is larger than ${MAX_STATE_VALUE_BYTES} bytes`,
        MAX_STATE_VALUE_BYTES,
      );
    }
    const namespace = c.req.param("namespace");
    const stateId = c.req.param("state_id");
    // One RPC (and one transaction) per page of REPORT_PAGE_OUTPUTS outputs, in order: the run actor never holds
    // a whole wide fan-out at once. A client that retries after a failure here resends the request: the
    // pages already applied change nothing.
    const first = page?.offset ?? 0;
    const more = page?.more ?? false;
    let outcome: ReportOutcome | undefined;
    const perPage = configOf(c.env).reportPageOutputs;
    for (let at = 0; at === 0 || at < outputs.length; at += perPage) {
      const slice = outputs.slice(at, at + perPage);
      const pageMore = more || at + perPage < outputs.length;
      const paged = page !== undefined || outputs.length > perPage;
      outcome = await report(c.env, namespace, stateId, (seq) => ({
        type: "executed",
        seq,
        outputs: slice,
        ...(paged ? { page: { offset: first + at, more: pageMore } } : {}),
      }));
      if (!outcome.applied && outcome.reason !== "duplicate_page") break;
    }
    if (outcome && !outcome.applied && outcome.reason === "page_gap") {
      throw new ConflictError("Page starts after the outputs received so far: send the pages in order");
    }
    if (outcome && !outcome.applied && outcome.reason !== "duplicate_page")
      throw new ValidationError("State is not queued");
    return c.json({ status: "EXECUTED" }, 200);
  })
  .post(`${STATE_PATH}/errored`, jsonBody(erroredBodySchema), async (c) => {
    const { error } = c.get("body");
    const outcome = await report(c.env, c.req.param("namespace"), c.req.param("state_id"), (seq) => ({
      type: "errored",
      seq,
      error,
    }));
    if (!outcome.applied) {
      const executed = outcome.status !== undefined && EXECUTED_ALREADY.has(outcome.status);
      throw new ValidationError(executed ? "State is already executed" : "State is not queued or executed");
    }
    // `status` is always "ERRORED" on the wire, even when a retry superseded the state (spec §2.11).
    return c.json({ status: "ERRORED", retry_created: outcome.retryCreated ?? false }, 200);
  })
  .post(`${STATE_PATH}/prune`, jsonBody(pruneBodySchema), async (c) => {
    const { data } = c.get("body");
    const outcome = await report(c.env, c.req.param("namespace"), c.req.param("state_id"), (seq) => ({
      type: "pruned",
      seq,
      data,
    }));
    if (!outcome.applied) throw new ValidationError("State is not queued");
    // Exactly 200: the Python runtime treats any other status as fatal.
    return c.json({ enqueue_after: outcome.enqueueAfter, status: "PRUNED" }, 200);
  })
  .post(`${STATE_PATH}/re-enqueue-after`, jsonBody(requeueBodySchema), async (c) => {
    const { enqueue_after: delayMs } = c.get("body");
    const outcome = await report(c.env, c.req.param("namespace"), c.req.param("state_id"), (seq) => ({
      type: "requeue",
      seq,
      delayMs,
    }));
    if (!outcome.applied) {
      // FIX (design §4): a finished state never runs twice, and only the runtime running a state
      // (QUEUED) may put it back.
      throw new ConflictError(
        `State is ${outcome.status ?? "finished"}: only a QUEUED state can be re-enqueued`,
      );
    }
    return c.json({ enqueue_after: outcome.enqueueAfter, status: "CREATED" }, 200);
  })
  .post(`${STATE_PATH}/manual-retry`, jsonBody(manualRetryBodySchema), async (c) => {
    const namespace = c.req.param("namespace");
    const { actor, seq } = stateRef(c.req.param("state_id"));
    const { fanout_id: fanoutId } = c.get("body");
    const { id } = unwrap(await c.env.RUN.getByName(actor).manualRetry(seq, fanoutId, namespace));
    return c.json({ id, status: "CREATED" }, 200);
  })
  .get(`${STATE_PATH}/secrets`, async (c) => {
    const namespace = c.req.param("namespace");
    const { actor, seq } = stateRef(c.req.param("state_id"));
    // Only the secrets the state's node declared (design §4, FIX), never the whole graph's.
    const all = await c.env.RUN.getByName(actor)
      .secretsOf([seq], namespace)
      .catch(async (e: unknown) => {
        // RPC keeps only an error's message: without a configured key, that the key is missing is the
        // refusal to report (503), as the run actor found when it had a secret to decrypt.
        if (configOf(c.env).secretsEncryptionKey === undefined) await secretsKeyFrom(undefined);
        throw e;
      });
    const secrets = all[seq];
    if (secrets === undefined) throw stateNotFound();
    return c.json({ secrets }, 200);
  });
