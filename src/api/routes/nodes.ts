// Node registration and listing (spec §2.3, §2.4). The body schema says what is accepted
// (schemas/request-bodies.ts).
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import { registerNodesBodySchema } from "../schemas/request-bodies";

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
