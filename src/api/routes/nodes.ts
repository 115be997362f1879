// Node registration and listing (spec §2.3, §2.4).
import { Hono } from "hono";
import { z } from "zod";
import { namespaceStub } from "../../actors/namespace-actor";
import { MAX_NODES_PER_REGISTRATION } from "../../engine/limits";
import { Transport } from "../../engine/model";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";

const jsonObject = z.record(z.string(), z.unknown());

/**
 * Unknown fields are dropped, as pydantic does: the Python SDK sends `runtime_namespace` and per-node
 * `namespace`. `transport` is our extension, accepted for the whole runtime and per node (a node's own
 * value wins); an HTTP-polling runtime omits it and is "pull".
 */
export const registerNodesBodySchema = z.object({
  runtime_name: z.string(),
  transport: Transport.optional(),
  nodes: z
    .array(
      z.object({
        name: z.string(),
        inputs_schema: jsonObject,
        outputs_schema: jsonObject,
        secrets: z.array(z.string()),
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
