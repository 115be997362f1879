// Reads, size-limits, parses and validates a JSON request body, answering in FastAPI's error shapes:
// 413 past the size limit, 422 `json_invalid` for bytes that are not JSON or that nest deeper than
// MAX_JSON_DEPTH (checked on the text, before parsing), 422 with pydantic-style errors for a body that
// does not match the schema. The parsed value is left for the handler under
// the `body` variable. Runs after auth (it is attached per route, auth is app-wide).
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import { PayloadTooLargeError, UnprocessableError } from "../../engine/errors";
import { jsonNestsDeeperThan, MAX_BODY_BYTES, MAX_JSON_DEPTH } from "../../engine/limits";
import type { AppEnv } from "../env";
import { pydanticErrors } from "../validation/pydantic-detail";

export type JsonBodyEnv<T> = AppEnv & { Variables: { body: T } };

export function jsonBody<S extends z.ZodType>(schema: S) {
  return createMiddleware<JsonBodyEnv<z.output<S>>>(async (c, next) => {
    const raw = parseJson(await readBodyBytes(c.req.raw, MAX_BODY_BYTES));
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new UnprocessableError(pydanticErrors(parsed.error.issues, raw, ["body"]));
    c.set("body", parsed.data);
    await next();
  });
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw jsonInvalid(0, "body is not valid UTF-8");
  }
  if (text.trim() === "") {
    throw new UnprocessableError([{ type: "missing", loc: ["body"], msg: "Field required", input: null }]);
  }
  // Pydantic's own parser answers a too-deep document the same way (json_invalid, recursion limit).
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw jsonInvalid(0, `JSON nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : "invalid JSON";
    const position = /position (\d+)/.exec(message)?.[1];
    throw jsonInvalid(position === undefined ? 0 : Number(position), message);
  }
}

function jsonInvalid(position: number, error: string): UnprocessableError {
  return new UnprocessableError([
    { type: "json_invalid", loc: ["body", position], msg: "JSON decode error", input: {}, ctx: { error } },
  ]);
}

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`Request body is larger than the limit of ${limit} bytes`, limit);
}

/**
 * The body's bytes, refusing more than `limit` bytes. A declared Content-Length over the limit is refused
 * before reading; a body without one (chunked) is counted as it streams, so memory stays bounded.
 */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (request.body === null) return new Uint8Array(0);
  // A declared length within the limit bounds the body (the HTTP layer refuses more): read it at once.
  if (declared !== null && /^\d+$/.test(declared)) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge(limit);
    return bytes;
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
