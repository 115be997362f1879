// Node registration and listing (spec §2.3, §2.4). The body schema says what is accepted
// (schemas/request-bodies.ts).
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { assertQueueBinding } from "../../dispatch/queues";
import { ValidationError } from "../../engine/errors";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import { registerNodesBodySchema } from "../schemas/request-bodies";

export const nodesRoutes = new Hono<AppEnv>()
  .put("/v0/namespace/:namespace/nodes/", jsonBody(registerNodesBodySchema), async (c) => {
    const namespace = c.req.param("namespace");
    const body = c.get("body");
    const nodes = body.nodes.map((n) => {
      const transport = n.transport ?? body.transport ?? "pull";
      const queue = n.queue ?? body.queue;
      if (transport === "queue") {
        // A push node's states go to its runtime's queue: one the engine can send to, named now.
        if (queue === undefined) {
          throw new ValidationError(
            `Node ${n.name} has transport 'queue' but names no queue: give 'queue', the engine's queue binding for its runtime`,
          );
        }
        assertQueueBinding(c.env, queue);
      }
      return {
        name: n.name,
        inputs_schema: n.inputs_schema,
        outputs_schema: n.outputs_schema,
        secrets: n.secrets,
        transport,
        ...(transport === "queue" && queue !== undefined ? { queue } : {}),
      };
    });
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
