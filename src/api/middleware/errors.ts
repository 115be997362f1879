// The one place where failures become responses. Every response is JSON (the Python SDK parses the body
// before it looks at the status), and nothing internal (stack, message, secret) reaches the client.
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed as honoMethodNotAllowed } from "hono/method-not-allowed";
import { ApiError } from "../../engine/errors";
import { SecretsKeyError } from "../../engine/secrets";
import type { AppEnv } from "../env";

export const INTERNAL_ERROR_BODY = {
  success: false,
  detail: "internal server error, please reach out to support team at support@exosphere.host",
} as const;

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return c.json({ detail: err.detail }, err.status);
  // A misconfigured key is the operator's problem, not the client's; its message names no key material.
  if (err instanceof SecretsKeyError) return c.json({ detail: err.message }, 503);
  if (err instanceof HTTPException && err.status < 500) {
    return c.json({ detail: err.message || "Bad Request" }, err.status);
  }
  // Logged by name and stack only: a request-derived message could carry a secret value.
  console.error("unhandled error", {
    requestId: c.get("requestId"),
    name: errName(err),
    stack: errStack(err),
  });
  return c.json(INTERNAL_ERROR_BODY, 500);
};

export const notFound: NotFoundHandler<AppEnv> = (c: Context<AppEnv>) => c.json({ detail: "Not Found" }, 404);

/** 405 JSON with an `Allow` header when the path exists under another method. */
export function methodNotAllowed(app: Hono<AppEnv>) {
  return honoMethodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json({ detail: "Method Not Allowed" }, 405, { Allow: methods.join(", ") }),
  });
}

function errName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

function errStack(err: unknown): string | undefined {
  return err instanceof Error ? err.stack : undefined;
}
