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

/**
 * The configured secret's digest, kept once computed (a value, not a promise: a request never waits on
 * another request's work), so that a request signs only what it was given.
 */
let secretDigest: { secret: string; digest: ArrayBuffer } | undefined;

async function digest(value: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign("HMAC", await comparisonKey(), encoder.encode(value));
}

/** Compares `given` with `secret` in constant time. */
export async function constantTimeEqual(given: string, secret: string): Promise<boolean> {
  let known = secretDigest?.secret === secret ? secretDigest.digest : undefined;
  if (known === undefined) {
    known = await digest(secret);
    secretDigest = { secret, digest: known };
  }
  return crypto.subtle.timingSafeEqual(await digest(given), known);
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
