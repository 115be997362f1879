// The request bodies of the routes that are not about graph templates (those live with the template rules,
// src/engine/template/request-schema.ts). Each is the zod schema its route validates with (`jsonBody`) and
// the one the OpenAPI document is generated from, so the two cannot disagree. No actor imports: the
// document is also built in Node, by the tests.
import { z } from "zod";
import { laxInt } from "../../engine/lax-integer";
import {
  exceedsBytes,
  MAX_DELAY_MS,
  MAX_ENQUEUE_BATCH,
  MAX_ENQUEUE_NODES,
  MAX_NODE_SCHEMA_BYTES,
  MAX_NODES_PER_REGISTRATION,
  MAX_SECRETS_PER_GRAPH,
} from "../../engine/limits";
import { Transport } from "../../engine/model";
import { boundedName } from "../../engine/template/request-schema";

const jsonObject = z.record(z.string(), z.unknown());

/** A registered JSON schema: stored in the node's row and listed with it, so bounded in size. */
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (schema) => !exceedsBytes(JSON.stringify(schema), MAX_NODE_SCHEMA_BYTES),
    `Schema is larger than ${MAX_NODE_SCHEMA_BYTES} bytes of JSON`,
  );

/**
 * `PUT /v0/namespace/{ns}/nodes/`. Unknown fields are dropped, as pydantic does: the Python SDK sends
 * `runtime_namespace` and per-node `namespace`. `transport` is our extension, accepted for the whole
 * runtime and per node (a node's own value wins); an HTTP-polling runtime omits it and is "pull".
 */
export const registerNodesBodySchema = z.object({
  runtime_name: boundedName(),
  transport: Transport.optional(),
  nodes: z
    .array(
      z.object({
        name: boundedName(),
        inputs_schema: jsonSchema,
        outputs_schema: jsonSchema,
        secrets: z.array(boundedName()).max(MAX_SECRETS_PER_GRAPH),
        transport: Transport.optional(),
      }),
    )
    .max(MAX_NODES_PER_REGISTRATION),
});

/**
 * `POST /v0/namespace/{ns}/states/enqueue`. A batch_size ≤ 0 is valid and claims nothing, as in Exosphere;
 * above the bound it is refused. So is a list of more than MAX_ENQUEUE_NODES names: each one names a
 * ready-queue actor the poll may wake.
 */
export const enqueueBodySchema = z.object({
  nodes: z.array(boundedName()).max(MAX_ENQUEUE_NODES),
  batch_size: laxInt(z.int().max(MAX_ENQUEUE_BATCH)),
});

/**
 * `POST .../state/{id}/executed`: Exosphere's body, plus our optional `page` for a fan-out too long for one
 * request: pages are sent in order (`offset` = index of the page's first output), the last one with
 * `more: false`.
 */
export const executedBodySchema = z.object({
  outputs: z.array(jsonObject),
  page: z.object({ offset: z.int().min(0), more: z.boolean() }).optional(),
});
export const erroredBodySchema = z.object({ error: z.string() });
export const pruneBodySchema = z.object({ data: jsonObject });
/** A delay in ms; Exosphere refuses 0 and negatives (gt=0). */
export const requeueBodySchema = z.object({
  enqueue_after: laxInt(z.int().gt(0).max(MAX_DELAY_MS)),
});
export const manualRetryBodySchema = z.object({ fanout_id: boundedName() });
