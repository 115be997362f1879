// Exosphere's request id: the caller's `x-exosphere-request-id` when Python's `uuid.UUID` would accept it
// (dashed, 32 hex digits, braces, `urn:uuid:` prefix), else a fresh uuid4. It is echoed on every
// response, errors included, so the caller can correlate logs.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

export const REQUEST_ID_HEADER = "x-exosphere-request-id";

/** Mirrors `uuid.UUID(hex)`: drop `urn:` / `uuid:`, strip braces at both ends, drop dashes, 32 hex digits. */
export function isPythonUuid(value: string): boolean {
  const hex = value
    .replaceAll("urn:", "")
    .replaceAll("uuid:", "")
    .replace(/^[{}]+|[{}]+$/g, "")
    .replaceAll("-", "");
  return /^[0-9a-fA-F]{32}$/.test(hex);
}

export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const given = c.req.header(REQUEST_ID_HEADER);
  const id = given !== undefined && isPythonUuid(given) ? given : crypto.randomUUID();
  c.set("requestId", id);
  await next();
  c.res.headers.set(REQUEST_ID_HEADER, id);
});
