// Graph templates: upsert, read, list (spec §2.5–§2.7). Secret values and ciphertexts never leave the
// actor through these routes; every view shows secret names mapped to `true`.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { configOf } from "../../config";
import type { GraphTemplateRecord } from "../../contracts";
import { NotFoundError, PayloadTooLargeError, UnprocessableError, unwrap } from "../../engine/errors";
import { exceedsBytes, MAX_GRAPH_TEMPLATE_BYTES, MAX_SECRETS_PER_GRAPH } from "../../engine/limits";
import { encryptSecrets, secretsKeyFrom } from "../../engine/secrets";
import { type UpsertGraphBody, upsertGraphBodySchema } from "../../engine/template/request-schema";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";

const secretFlags = (names: string[]): Record<string, true> =>
  Object.fromEntries(names.map((n) => [n, true]));

/**
 * The shape of the upsert and GET responses: Exosphere's fields plus `name` and `namespace` (Exosphere's
 * dashboard shows them from this answer, which in Exosphere lacks them) and `trigger_schedule`.
 */
function templateView(t: GraphTemplateRecord) {
  return {
    name: t.name,
    namespace: t.namespace,
    nodes: t.nodes,
    secrets: secretFlags(t.secret_names),
    retry_policy: t.retry_policy,
    store_config: t.store_config,
    triggers: t.triggers,
    // Our extension: each armed cron schedule with its next fire time (ISO, UTC); empty unless VALID.
    trigger_schedule: t.trigger_schedule,
    created_at: t.created_at,
    updated_at: t.updated_at,
    validation_status: t.validation_status,
    validation_errors: t.validation_errors,
  };
}

/** One element of the list response: the stored document, minus the ciphertexts Exosphere leaks there. */
function listedTemplateView(t: GraphTemplateRecord) {
  return {
    _id: t._id,
    created_at: t.created_at,
    updated_at: t.updated_at,
    name: t.name,
    namespace: t.namespace,
    nodes: t.nodes,
    validation_status: t.validation_status,
    validation_errors: t.validation_errors,
    secrets: secretFlags(t.secret_names),
    triggers: t.triggers,
    retry_policy: t.retry_policy,
    store_config: t.store_config,
  };
}

/**
 * A template is one row, snapshotted into every run's meta row: its secrets are counted before any is
 * encrypted, then its size is bounded (src/engine/limits.ts). The 422 names the secrets, never their values.
 */
function checkTemplateSize(body: UpsertGraphBody): void {
  const names = Object.keys(body.secrets);
  if (names.length > MAX_SECRETS_PER_GRAPH) {
    throw new UnprocessableError([
      {
        type: "too_long",
        loc: ["body", "secrets"],
        msg: `Dictionary should have at most ${MAX_SECRETS_PER_GRAPH} items after validation, not ${names.length}`,
        input: secretFlags(names),
        ctx: { field_type: "Dictionary", max_length: MAX_SECRETS_PER_GRAPH, actual_length: names.length },
      },
    ]);
  }
  if (exceedsBytes(JSON.stringify(body), MAX_GRAPH_TEMPLATE_BYTES)) {
    throw new PayloadTooLargeError(
      `Graph template is larger than ${MAX_GRAPH_TEMPLATE_BYTES} bytes of JSON`,
      MAX_GRAPH_TEMPLATE_BYTES,
    );
  }
}

export const graphsRoutes = new Hono<AppEnv>()
  .put("/v0/namespace/:namespace/graph/:graph", jsonBody(upsertGraphBodySchema), async (c) => {
    const namespace = c.req.param("namespace");
    const body = c.get("body");
    checkTemplateSize(body);
    // Encrypted here so plaintext never reaches storage. Without SECRETS_ENCRYPTION_KEY a graph with
    // secrets is refused (503), as the API is without its key.
    const secrets =
      Object.keys(body.secrets).length === 0
        ? {}
        : await encryptSecrets(await secretsKeyFrom(configOf(c.env).secretsEncryptionKey), body.secrets);
    const stored = unwrap(
      await namespaceStub(c.env, namespace).upsertGraph(namespace, c.req.param("graph"), {
        ...body,
        secrets,
      }),
    );
    return c.json(templateView(stored), 201);
  })
  .get("/v0/namespace/:namespace/graph/:graph", async (c) => {
    const namespace = c.req.param("namespace");
    const graph = c.req.param("graph");
    const stored = await namespaceStub(c.env, namespace).getGraph(namespace, graph);
    if (stored === null)
      throw new NotFoundError(`Graph template ${graph} not found in namespace ${namespace}`);
    return c.json(templateView(stored));
  })
  .get("/v0/namespace/:namespace/graphs/", async (c) => {
    const namespace = c.req.param("namespace");
    const templates = await namespaceStub(c.env, namespace).listGraphs(namespace);
    return c.json({ namespace, count: templates.length, templates: templates.map(listedTemplateView) });
  });
