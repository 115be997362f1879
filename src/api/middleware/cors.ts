// CORS as Exosphere configures it (spec §1.4): an allow-list of origins from `CORS_ORIGINS`, credentials
// allowed, and the request-id header exposed so browser clients can read it (with our Idempotency-Key).

import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { configOf } from "../../config";
import type { AppEnv } from "../env";
import { REQUEST_ID_HEADER } from "./request-id";

/** The middleware for one configuration (its origins), built once: a request only runs it. */
const built = new WeakMap<object, MiddlewareHandler>();

function corsFor(origins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(origins);
  return honoCors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    credentials: true,
    allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"],
    allowHeaders: [
      "Accept",
      "Accept-Language",
      "Content-Language",
      "Content-Type",
      "X-API-Key",
      "Authorization",
      "X-Requested-With",
      "X-Exosphere-Request-ID",
      // Our extension: a trigger's idempotency key, and the answer's mark that it replayed a first run.
      "Idempotency-Key",
    ],
    exposeHeaders: [REQUEST_ID_HEADER, "Idempotent-Replayed"],
  });
}

export const cors = createMiddleware<AppEnv>((c, next) => {
  const config = configOf(c.env);
  let handler = built.get(config);
  if (handler === undefined) {
    handler = corsFor(config.corsOrigins);
    built.set(config, handler);
  }
  return handler(c, next);
});
