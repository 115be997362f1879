// One error vocabulary. Engine, actors and routes throw named domain errors that say what went wrong and
// never an HTTP status; the API edge maps each error's `kind` to a status in one table
// (src/api/middleware/errors.ts). Workers RPC keeps only an error's message, so an actor that must refuse
// a request answers a `Result` carrying the error's kind and detail, and the route `unwrap`s it.
import { z } from "zod";

/** What the client is told: the `detail` of the JSON error body (a string, or pydantic-style issues). */
export type Detail = string | Record<string, unknown> | unknown[];

/** Every kind of refusal; the API's status table has exactly one entry per kind. */
export const ErrorKind = z.enum([
  /** The request, or the state it names, cannot be served as asked (Exosphere's 400s). */
  "invalid",
  /** No valid API key. */
  "unauthorized",
  /** The namespace, graph, run or state does not exist (or not where the path says). */
  "not_found",
  /** The state's status forbids the transition (e.g. requeueing a finished state). */
  "conflict",
  /** A value is larger than its bound (a request body, a stored input or output). */
  "payload_too_large",
  /** The request does not match its schema (FastAPI's 422, pydantic-style details). */
  "unprocessable",
  /** The server is not configured to serve this (an operator's problem, not the client's). */
  "misconfigured",
]);
export type ErrorKind = z.infer<typeof ErrorKind>;

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly detail: Detail,
    options?: { cause?: unknown; message?: string },
  ) {
    super(options?.message ?? (typeof detail === "string" ? detail : JSON.stringify(detail)), options);
    this.name = "DomainError";
  }
}

export class ValidationError extends DomainError {
  constructor(detail: string, options?: { cause?: unknown; message?: string }) {
    super("invalid", detail, options);
    this.name = "ValidationError";
  }
}

export class UnauthorizedError extends DomainError {
  constructor(detail: string) {
    super("unauthorized", detail);
    this.name = "UnauthorizedError";
  }
}

export class NotFoundError extends DomainError {
  constructor(detail: string) {
    super("not_found", detail);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends DomainError {
  constructor(detail: string) {
    super("conflict", detail);
    this.name = "ConflictError";
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(
    detail: string,
    /** The bound that was exceeded, in bytes. */
    readonly limitBytes: number,
  ) {
    super("payload_too_large", detail);
    this.name = "PayloadTooLargeError";
  }
}

export class UnprocessableError extends DomainError {
  constructor(
    /** Pydantic-style issues (`type`, `loc`, `msg`, `input`, ...), as FastAPI answers them. */
    readonly issues: unknown[],
  ) {
    super("unprocessable", issues);
    this.name = "UnprocessableError";
  }
}

export class ConfigurationError extends DomainError {
  constructor(
    /** The setting (environment variable) that is missing or malformed; never its value. */
    readonly setting: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("misconfigured", detail, options);
    this.name = "ConfigurationError";
  }
}

/** What a refusing actor RPC answers: the error's kind and detail, all that the edge needs. */
export interface ErrorPayload {
  kind: ErrorKind;
  detail: Detail;
}

/** What an actor RPC answers: a value, or the domain error a route must turn into its response. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export const failed = <T = never>(error: DomainError): Result<T> => ({
  ok: false,
  error: { kind: error.kind, detail: error.detail },
});

/** Runs `fn`, turning a thrown DomainError into a failed Result; any other error propagates. */
export async function toResult<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (e) {
    if (e instanceof DomainError) return failed(e);
    throw e;
  }
}

/** The Result's value, or its error thrown again (as a DomainError of the same kind and detail). */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new DomainError(result.error.kind, result.error.detail);
}
