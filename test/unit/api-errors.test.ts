import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import type { AppEnv } from "../../src/api/env";
import { internalErrorBody, onError, STATUS_OF } from "../../src/api/middleware/errors";
import {
  ConfigurationError,
  ConflictError,
  DomainError,
  ErrorKind,
  failed,
  NotFoundError,
  PayloadTooLargeError,
  type Result,
  toResult,
  UnauthorizedError,
  UnprocessableError,
  unwrap,
  ValidationError,
} from "../../src/engine/errors";
import { SecretsKeyError } from "../../src/engine/secrets";
import { GraphStructureError } from "../../src/engine/template/structure";

/** What the API answers when a handler throws `error`. */
async function answer(error: unknown): Promise<{ status: number; body: unknown }> {
  const app = new Hono<AppEnv>();
  app.get("/", () => {
    throw error;
  });
  app.onError(onError);
  const res = await app.request("/");
  return { status: res.status, body: await res.json() };
}

describe("the API's error table", () => {
  it.each([
    [new ValidationError("State is not queued"), 400, "State is not queued"],
    [new UnauthorizedError("Invalid API key"), 401, "Invalid API key"],
    [new NotFoundError("State not found"), 404, "State not found"],
    [new ConflictError("State is SUCCESS"), 409, "State is SUCCESS"],
    [
      new PayloadTooLargeError("Output 0 is larger than 10 bytes", 10),
      413,
      "Output 0 is larger than 10 bytes",
    ],
    [new UnprocessableError([{ type: "missing", loc: ["body"] }]), 422, [{ type: "missing", loc: ["body"] }]],
    [
      new ConfigurationError("STATE_MANAGER_SECRET", "API key is not configured"),
      503,
      "API key is not configured",
    ],
    [
      new SecretsKeyError("SECRETS_ENCRYPTION_KEY is not valid URL-safe base64"),
      503,
      "SECRETS_ENCRYPTION_KEY is not valid URL-safe base64",
    ],
  ])("answers %s with its status and its detail", async (error, status, detail) => {
    expect(await answer(error)).toEqual({ status, body: { detail } });
  });

  it("has one status for every kind of domain error, all of them client or configuration errors", () => {
    expect(Object.keys(STATUS_OF).sort()).toEqual([...ErrorKind.options].sort());
    for (const status of Object.values(STATUS_OF))
      expect(status === 503 || (status >= 400 && status < 500)).toBe(true);
  });

  it("answers a graph refused at upsert with Exosphere's wrapped text, keeping the violations as the message", async () => {
    const error = new GraphStructureError([
      "Node identifier a is not unique",
      "Node identifier b is not unique",
    ]);
    expect(error.message).toBe("Node identifier a is not unique\nNode identifier b is not unique");
    expect(await answer(error)).toEqual({
      status: 400,
      body: {
        detail:
          "Error validating graph template: Node identifier a is not unique\nNode identifier b is not unique",
      },
    });
  });

  it("answers the same for an error that crossed RPC as a Result (kind and detail only)", async () => {
    const refuse = (): string => {
      throw new NotFoundError("Run x not found");
    };
    const result: Result<string> = structuredClone(await toResult(refuse));
    expect(result).toEqual({ ok: false, error: { kind: "not_found", detail: "Run x not found" } });
    let thrown: unknown;
    try {
      unwrap(result);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect(await answer(thrown)).toEqual({ status: 404, body: { detail: "Run x not found" } });
    expect(() => unwrap(failed(new ConflictError("c")))).toThrow(
      expect.objectContaining({ kind: "conflict" }),
    );
  });

  it("lets an error that is not a domain error through toResult", async () => {
    await expect(toResult(() => Promise.reject(new TypeError("bug")))).rejects.toBeInstanceOf(TypeError);
  });

  it("answers anything else with 500 and a body that says nothing about the error", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await answer(new Error("secret value abc"))).toEqual({
        status: 500,
        body: internalErrorBody("none"),
      });
    } finally {
      log.mockRestore();
    }
  });
});
