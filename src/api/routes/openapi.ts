import { Hono } from "hono";
import type { AppEnv } from "../env";
import { openApiDocument } from "../openapi/document";

/**
 * `GET /openapi.json`: the API's OpenAPI 3.1 document. Like /health it needs no API key: it describes the
 * API (generated from its request schemas) and holds nothing of any namespace.
 */
export const openApiRoutes = new Hono<AppEnv>().get("/openapi.json", (c) => c.json(openApiDocument()));
