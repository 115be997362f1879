// The API key check (spec §1.3, design invariant 6). Every route but /health requires `x-api-key` equal
// to STATE_MANAGER_SECRET. Both values are HMAC'd with a per-isolate random key before a constant-time
// comparison, so neither the comparison time nor the digests' length reveal anything about the secret.
// An unset secret never means "open": the API refuses to serve until it is configured.

import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { configOf } from "../../config";
import { ConfigurationError, UnauthorizedError } from "../../engine/errors";
import type { AppEnv } from "../env";

const encoder = new TextEncoder();
let hmacKey: Promise<CryptoKey> | undefined;

function comparisonKey(): Promise<CryptoKey> {
  hmacKey ??= crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]) as Promise<CryptoKey>;
  return hmacKey;
}

export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const key = await comparisonKey();
  const [da, db] = await Promise.all([
    crypto.subtle.sign("HMAC", key, encoder.encode(a)),
    crypto.subtle.sign("HMAC", key, encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  // A request no route handles answers 404/405 as FastAPI's router does, before any dependency runs;
  // nothing is served to it, so no key is needed to learn that.
  const handled = matchedRoutes(c).some((r) => r.method !== "ALL");
  if (!handled) return next();

  const secret = configOf(c.env).apiKey;
  if (secret === null) {
    throw new ConfigurationError(
      "STATE_MANAGER_SECRET",
      "API key is not configured on this server: set the STATE_MANAGER_SECRET secret",
    );
  }
  const given = c.req.header("x-api-key");
  if (given === undefined || !(await constantTimeEqual(given, secret))) {
    throw new UnauthorizedError("Invalid API key");
  }
  return next();
});
