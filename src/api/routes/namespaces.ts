import { Hono } from "hono";
import { directoryStub } from "../../actors/namespace-actor";
import type { AppEnv } from "../env";

/** `GET /v0/namespaces` (spec §2.2): namespaces that registered nodes, in ascending order. */
export const namespacesRoutes = new Hono<AppEnv>().get("/v0/namespaces", async (c) => {
  const namespaces = await directoryStub(c.env).listDirectory();
  return c.json({ namespaces, count: namespaces.length });
});
