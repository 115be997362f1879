// Node registration and listing (spec §2.3, §2.4).
import { Hono } from "hono";
import { z } from "zod";
import { namespaceStub } from "../../actors/namespace-actor";
import {
  exceedsBytes,
  MAX_NODE_SCHEMA_BYTES,
  MAX_NODES_PER_REGISTRATION,
  MAX_SECRETS_PER_GRAPH,
} from "../../engine/limits";
import { Transport } from "../../engine/model";
import { boundedName } from "../../engine/template/request-schema";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";

/** A registered JSON schema: stored in the node's row and listed with it, so bounded in size. */
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (schema) => !exceedsBytes(JSON.stringify(schema), MAX_NODE_SCHEMA_BYTES),
    `Schema is larger than ${MAX_NODE_SCHEMA_BYTES} bytes of JSON`,
  );

/**
 * Unknown fields are dropped, as pydantic does: the Python SDK sends `runtime_namespace` and per-node
 * `namespace`. `transport` is our extension, accepted for the whole runtime and per node (a node's own
 * value wins); an HTTP-polling runtime omits it and is "pull".
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

export const nodesRoutes = new Hono<AppEnv>()
  .put("/v0/namespace/:namespace/nodes/", jsonBody(registerNodesBodySchema), async (c) => {
    const namespace = c.req.param("namespace");
    const body = c.get("body");
    const nodes = body.nodes.map((n) => ({
      name: n.name,
      inputs_schema: n.inputs_schema,
      outputs_schema: n.outputs_schema,
      secrets: n.secrets,
      transport: n.transport ?? body.transport ?? "pull",
    }));
    await namespaceStub(c.env, namespace).registerNodes(namespace, body.runtime_name, nodes);
    return c.json({
      runtime_name: body.runtime_name,
      registered_nodes: nodes.map(({ name, inputs_schema, outputs_schema, secrets }) => ({
        name,
        inputs_schema,
        outputs_schema,
        secrets,
      })),
    });
  })
  .get("/v0/namespace/:namespace/nodes/", async (c) => {
    const namespace = c.req.param("namespace");
    const nodes = await namespaceStub(c.env, namespace).listNodes(namespace);
    return c.json({ namespace, count: nodes.length, nodes });
  });
