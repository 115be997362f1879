// The one place where failures become responses. Every response is JSON (the Python SDK parses the body
// before it looks at the status), and nothing internal (stack, message, secret) reaches the client.
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed as honoMethodNotAllowed } from "hono/method-not-allowed";
import { ApiError } from "../../engine/errors";
import { SecretsKeyError } from "../../engine/secrets";
import type { AppEnv } from "../env";

/**
 * Exosphere's 500 shape. The detail names the request id (also in the `x-exosphere-request-id` header), the
 * key under which the error was logged, so that whoever runs the engine can find the log line.
 */
export function internalErrorBody(requestId: string) {
  return {
    success: false,
    detail: `internal server error, logged under request id ${requestId}: quote it to whoever runs the engine`,
  } as const;
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return c.json({ detail: err.detail }, err.status);
  // A misconfigured key is the operator's problem, not the client's; its message names no key material.
  if (err instanceof SecretsKeyError) return c.json({ detail: err.message }, 503);
  if (err instanceof HTTPException && err.status < 500) {
    return c.json({ detail: err.message || "Bad Request" }, err.status);
  }
  // Logged by name and stack only: a request-derived message could carry a secret value.
  const requestId = c.get("requestId") ?? "none";
  console.error(`unhandled error, request id ${requestId}`, {
    requestId,
    name: errName(err),
    stack: errStack(err),
  });
  return c.json(internalErrorBody(requestId), 500);
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
