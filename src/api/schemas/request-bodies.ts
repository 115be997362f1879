// The request bodies of the routes that are not about graph templates (those live with the template rules,
// src/engine/template/request-schema.ts). Each is the zod schema its route validates with (`jsonBody`) and
// the one the OpenAPI document is generated from, so the two cannot disagree. No actor imports: the
// document is also built in Node, by the tests.
import { z } from "zod";
import { ACTOR_NAME } from "../../contracts/engine-rpc";
import { laxInt } from "../../engine/lax-integer";
import {
  exceedsBytes,
  MAX_DELAY_MS,
  MAX_ENQUEUE_BATCH,
  MAX_ENQUEUE_NODES,
  MAX_NODE_SCHEMA_BYTES,
  MAX_NODES_PER_REGISTRATION,
  MAX_PULL_WAIT_MS,
  MAX_RUNTIME_CALL_ITEMS,
  MAX_SECRETS_PER_GRAPH,
  MAX_TRIGGER_WAIT_MS,
} from "../../engine/limits";
import { Transport } from "../../engine/model";
import { boundedName, triggerBodySchema } from "../../engine/template/request-schema";

const jsonObject = z.record(z.string(), z.unknown());

/** A registered JSON schema: stored in the node's row and listed with it, so bounded in size. */
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (schema) => !exceedsBytes(JSON.stringify(schema), MAX_NODE_SCHEMA_BYTES),
    `Schema is larger than ${MAX_NODE_SCHEMA_BYTES} bytes of JSON`,
  );

const nodeRegistration = z.object({
  name: boundedName(),
  inputs_schema: jsonSchema,
  outputs_schema: jsonSchema,
  secrets: z.array(boundedName()).max(MAX_SECRETS_PER_GRAPH),
});

/**
 * `PUT /v0/namespace/{ns}/nodes/`. Unknown fields are dropped, as pydantic does: the Python SDK sends
 * `runtime_namespace` and per-node `namespace`. `transport` and `queue` are our extensions, accepted for
 * the whole runtime and per node (a node's own value wins); an HTTP-polling runtime omits them and is
 * "pull". A `queue` node names the engine's queue producer binding its states go to.
 */
export const registerNodesBodySchema = z.object({
  runtime_name: boundedName(),
  transport: Transport.optional(),
  queue: boundedName().optional(),
  nodes: z
    .array(nodeRegistration.extend({ transport: Transport.optional(), queue: boundedName().optional() }))
    .max(MAX_NODES_PER_REGISTRATION),
});

// ---- the runtime interface over HTTP (`POST /v0/runtime/{method}`, contracts/engine-rpc.ts) ----

/** A push runtime's registration, as `registerNodes` takes it over the binding and over HTTP. */
export const runtimeRegistrationSchema = z.object({
  namespace: boundedName().min(1),
  runtimeName: boundedName(),
  queue: boundedName().min(1),
  nodes: z.array(nodeRegistration).max(MAX_NODES_PER_REGISTRATION),
  keepOthers: z.boolean().optional(),
});

const actorName = z.string().regex(ACTOR_NAME, "a run key (16 hex digits), optionally followed by :shard");
const seqs = z.array(z.int().min(0).max(0xffffffff)).max(MAX_RUNTIME_CALL_ITEMS);
const report = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("executed"),
    seq: z.int().min(0),
    outputs: z.array(jsonObject),
    page: z.object({ offset: z.int().min(0), more: z.boolean() }).optional(),
  }),
  z.object({ type: z.literal("errored"), seq: z.int().min(0), error: z.string() }),
  z.object({ type: z.literal("pruned"), seq: z.int().min(0), data: jsonObject }),
  z.object({ type: z.literal("requeue"), seq: z.int().min(0), delayMs: z.int().min(0).max(MAX_DELAY_MS) }),
]);
/** The arguments, optionally followed by a namespace (two tuples: JSON Schema has no optional item). */
const withNamespace = <A extends z.ZodType, B extends z.ZodType>(args: [A, B]) =>
  z.union([z.tuple(args), z.tuple([...args, boundedName()])]);

/** The body of each runtime call over HTTP: `{"args": [...]}`, the method's arguments in order. */
const deliveries = z
  .array(z.object({ seq: z.int().min(0).max(0xffffffff), d: z.int().optional() }))
  .max(MAX_RUNTIME_CALL_ITEMS);
const eagerAsk = z.object({
  nodes: z.array(z.object({ ns: boundedName(), node: boundedName() })).max(MAX_ENQUEUE_NODES),
  max: z.int().min(0).max(MAX_RUNTIME_CALL_ITEMS),
});
export const runtimeCallBodySchemas = {
  pickup: z.object({ args: z.tuple([actorName, deliveries]) }),
  report: z.object({ args: withNamespace([actorName, z.array(report).max(MAX_RUNTIME_CALL_ITEMS)]) }),
  reportAndTake: z.object({
    args: z.tuple([actorName, z.array(report).max(MAX_RUNTIME_CALL_ITEMS), eagerAsk]),
  }),
  nodesSeen: z.object({ args: z.tuple([boundedName(), z.array(boundedName()).max(MAX_ENQUEUE_NODES)]) }),
  inputsOf: z.object({ args: z.tuple([actorName, seqs]) }),
  secretsOf: z.object({ args: withNamespace([actorName, seqs]) }),
  registerNodes: z.object({ args: z.tuple([runtimeRegistrationSchema]) }),
};

/**
 * `POST /v0/namespace/{ns}/graph/{g}/trigger`: Exosphere's body, plus our optional `wait_ms`: how long the
 * request may wait for the run to end before it answers. It is not part of the run (nor of the request an
 * `Idempotency-Key` stands for): the route takes it off before the namespace actor sees the body.
 */
export const triggerRequestSchema = triggerBodySchema.extend({
  wait_ms: z.int().min(0).max(MAX_TRIGGER_WAIT_MS).optional(),
});

/**
 * `POST /v0/namespace/{ns}/states/enqueue`. A batch_size ≤ 0 is valid and claims nothing, as in Exosphere;
 * above the bound it is refused. So is a list of more than MAX_ENQUEUE_NODES names: each one names a
 * ready-queue actor the poll may wake.
 */
export const enqueueBodySchema = z.object({
  nodes: z.array(boundedName()).max(MAX_ENQUEUE_NODES),
  batch_size: laxInt(z.int().max(MAX_ENQUEUE_BATCH)),
  /** Ours: how long to wait for a state when none is ready (ms; default `PULL_WAIT_MS`, 0: answer at once). */
  wait_ms: z.int().min(0).max(MAX_PULL_WAIT_MS).optional(),
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
