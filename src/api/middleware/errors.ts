// The one place where failures become responses. Every response is JSON (the Python SDK parses the body
// before it looks at the status), and nothing internal (stack, message, secret) reaches the client.
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed as honoMethodNotAllowed } from "hono/method-not-allowed";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DomainError, type ErrorKind } from "../../engine/errors";
import type { AppEnv } from "../env";

/** The HTTP status of each kind of domain error: the only place where the two meet. */
export const STATUS_OF: Readonly<Record<ErrorKind, ContentfulStatusCode>> = {
  invalid: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unprocessable: 422,
  // A misconfigured server (API key unset, encryption key malformed) is the operator's problem.
  misconfigured: 503,
};

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
  if (err instanceof DomainError) return c.json({ detail: err.detail }, STATUS_OF[err.kind]);
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

/** A path no route serves (FastAPI's answer). */
export const unknownRoute: NotFoundHandler<AppEnv> = (c: Context<AppEnv>) =>
  c.json({ detail: "Not Found" }, 404);

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
