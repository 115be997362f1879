import { Hono } from "hono";
import { directoryStub } from "../../actors/directory-actor";
import type { AppEnv } from "../env";

/** `GET /v0/namespaces` (spec §2.2): namespaces that registered nodes, in ascending order. */
export const namespacesRoutes = new Hono<AppEnv>().get("/v0/namespaces", async (c) => {
  const namespaces = await directoryStub(c.env).list();
  return c.json({ namespaces, count: namespaces.length });
});
