// CORS as Exosphere configures it (spec §1.4): an allow-list of origins from `CORS_ORIGINS`, credentials
// allowed, and the request-id header exposed so browser clients can read it.
import { cors as honoCors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { REQUEST_ID_HEADER } from "./request-id";

export const DEFAULT_CORS_ORIGINS = [
  "http://localhost:3000",
  "http://localhost:3001",
  "http://127.0.0.1:3000",
  "http://127.0.0.1:3001",
];

export function corsOrigins(configured: string | undefined): string[] {
  if (configured === undefined || configured.trim() === "") return DEFAULT_CORS_ORIGINS;
  return configured
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
}

export const cors = createMiddleware<AppEnv>((c, next) => {
  const allowed = new Set(corsOrigins(c.env.CORS_ORIGINS));
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
    ],
    exposeHeaders: [REQUEST_ID_HEADER],
  })(c, next);
});
