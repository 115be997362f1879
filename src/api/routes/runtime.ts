// The runtime interface over HTTPS (ours): `POST /v0/runtime/{method}` with `{"args": [...]}`, the same
// methods and arguments as the RuntimeEntrypoint behind a service binding (contracts/engine-rpc.ts), for a
// runtime Worker that cannot bind the engine (another account). Under the API key like every /v0 route.
import { Hono } from "hono";
import { ENGINE_RPC_METHODS } from "../../contracts";
import { type Result, unwrap } from "../../engine/errors";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import { engineRpc } from "../runtime/engine-rpc";
import { runtimeCallBodySchemas } from "../schemas/request-bodies";

export const runtimeRoutes = new Hono<AppEnv>();

for (const method of ENGINE_RPC_METHODS) {
  runtimeRoutes.post(`/v0/runtime/${method}`, jsonBody(runtimeCallBodySchemas[method]), async (c) => {
    const { args } = c.get("body");
    const call = engineRpc(c.env)[method] as (...a: unknown[]) => Promise<unknown>;
    const result = await call(...(args as unknown[]));
    // A refused registration is the route's 4xx, as every refusal over HTTP.
    return c.json({ result: method === "registerNodes" ? unwrap(result as Result<unknown>) : result });
  });
}
