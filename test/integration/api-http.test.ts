// Cross-cutting HTTP behaviour (spec §1): auth, JSON on every response, request ids, CORS, body errors.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { app } from "../../src/api/app";
import { MAX_BODY_BYTES } from "../../src/engine/limits";

const KEY = "test-secret-key";

function call(
  method: string,
  path: string,
  init: { body?: BodyInit; headers?: Record<string, string> } = {},
) {
  return exports.default.fetch(
    new Request(`http://x${path}`, {
      method,
      body: init.body,
      headers: { "x-api-key": KEY, "content-type": "application/json", ...init.headers },
    }),
  );
}

const freshNamespace = () => `ns-${crypto.randomUUID()}`;

async function expectJson(res: Response, status: number): Promise<unknown> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json();
}

describe("health and routing", () => {
  it("answers /health without a key", async () => {
    const res = await exports.default.fetch(new Request("http://x/health"));
    expect(await expectJson(res, 200)).toEqual({ message: "OK" });
  });

  it("answers an unknown route with 404 JSON, with or without a key", async () => {
    expect(await expectJson(await call("GET", "/v0/nope"), 404)).toEqual({ detail: "Not Found" });
    const anonymous = await exports.default.fetch(new Request("http://x/nowhere"));
    expect(await expectJson(anonymous, 404)).toEqual({ detail: "Not Found" });
  });

  it("answers a known path with the wrong method with 405 JSON and an Allow header", async () => {
    const res = await call("DELETE", `/v0/namespace/${freshNamespace()}/nodes/`);
    expect(await expectJson(res, 405)).toEqual({ detail: "Method Not Allowed" });
    expect(res.headers.get("allow")).toContain("PUT");
  });

  it("keeps trailing slashes significant", async () => {
    await expectJson(await call("GET", `/v0/namespace/${freshNamespace()}/nodes`), 404);
  });
});

describe("API key", () => {
  it("refuses a missing or wrong key with 401 before validating the body", async () => {
    const ns = freshNamespace();
    const missing = await exports.default.fetch(new Request(`http://x/v0/namespace/${ns}/nodes/`));
    expect(await expectJson(missing, 401)).toEqual({ detail: "Invalid API key" });
    const wrong = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
      body: "not json",
      headers: { "x-api-key": `${KEY}x` },
    });
    expect(await expectJson(wrong, 401)).toEqual({ detail: "Invalid API key" });
    const prefix = await call("GET", "/v0/namespaces", { headers: { "x-api-key": KEY.slice(0, -1) } });
    await expectJson(prefix, 401);
  });

  it("treats the header name case-insensitively", async () => {
    const res = await exports.default.fetch(
      new Request("http://x/v0/namespaces", { headers: { "X-API-KEY": KEY } }),
    );
    await expectJson(res, 200);
  });

  it("refuses to serve /v0 at all when no key is configured", async () => {
    for (const unset of [
      { ...env, STATE_MANAGER_SECRET: "" },
      { ...env, STATE_MANAGER_SECRET: undefined },
    ]) {
      const res = await app.fetch(
        new Request("http://x/v0/namespaces", { headers: { "x-api-key": "" } }),
        unset,
      );
      const body = (await expectJson(res, 503)) as { detail: string };
      expect(body.detail).toContain("STATE_MANAGER_SECRET");
    }
    const health = await app.fetch(new Request("http://x/health"), { ...env, STATE_MANAGER_SECRET: "" });
    await expectJson(health, 200);
  });
});

describe("server-side failures", () => {
  it("answers an unexpected error with the generic 500 body, naming the request id it logged", async () => {
    const broken = { ...env, DIRECTORY: undefined } as unknown as Env;
    const requestId = "12345678-1234-5678-1234-567812345678";
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const res = await app.fetch(
        new Request("http://x/v0/namespaces", {
          headers: { "x-api-key": KEY, "x-exosphere-request-id": requestId },
        }),
        broken,
      );
      expect(res.headers.get("x-exosphere-request-id")).toBe(requestId);
      expect(await expectJson(res, 500)).toEqual({
        success: false,
        detail: `internal server error, logged under request id ${requestId}: quote it to whoever runs the engine`,
      });
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain(requestId);
      expect(logged.mock.calls[0]?.[1]).toMatchObject({ requestId, name: "TypeError" });
    } finally {
      logged.mockRestore();
    }
  });

  it("names a fresh request id in the 500 body when the caller sent none", async () => {
    const broken = { ...env, DIRECTORY: undefined } as unknown as Env;
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const res = await app.fetch(
        new Request("http://x/v0/namespaces", { headers: { "x-api-key": KEY } }),
        broken,
      );
      const id = res.headers.get("x-exosphere-request-id") ?? "";
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const body = (await expectJson(res, 500)) as { success: boolean; detail: string };
      expect(body.success).toBe(false);
      expect(body.detail).toContain(id);
      expect(body.detail).not.toContain("@");
      expect(String(logged.mock.calls[0]?.[0])).toContain(id);
    } finally {
      logged.mockRestore();
    }
  });

  it("answers 503 when the secrets key is misconfigured, without echoing it", async () => {
    const badKey = "c2hvcnQta2V5";
    const res = await app.fetch(
      new Request(`http://x/v0/namespace/${freshNamespace()}/graph/g`, {
        method: "PUT",
        headers: { "x-api-key": KEY },
        body: JSON.stringify({ secrets: { s: "v" }, nodes: [] }),
      }),
      { ...env, SECRETS_ENCRYPTION_KEY: badKey },
    );
    const body = (await expectJson(res, 503)) as { detail: string };
    expect(body.detail).toContain("SECRETS_ENCRYPTION_KEY");
    expect(body.detail).not.toContain(badKey);
  });
});

describe("request id", () => {
  it("echoes an id that Python's uuid.UUID accepts, in all its spellings", async () => {
    const id = "12345678-1234-5678-1234-567812345678";
    for (const given of [id, id.replaceAll("-", ""), `{${id}}`, `urn:uuid:${id}`, id.toUpperCase()]) {
      const res = await call("GET", "/v0/namespaces", { headers: { "x-exosphere-request-id": given } });
      expect(res.headers.get("x-exosphere-request-id")).toBe(given);
    }
  });

  it("replaces an invalid id with a fresh uuid4, on errors too", async () => {
    const res = await call("GET", "/v0/missing", { headers: { "x-exosphere-request-id": "not-a-uuid" } });
    expect(res.status).toBe(404);
    const echoed = res.headers.get("x-exosphere-request-id");
    expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const unauthorized = await exports.default.fetch(new Request("http://x/v0/namespaces"));
    expect(unauthorized.headers.get("x-exosphere-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("CORS", () => {
  it("allows the default local origins with credentials and exposes the request id", async () => {
    const res = await exports.default.fetch(
      new Request("http://x/v0/namespaces", {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:3000",
          "access-control-request-method": "GET",
          "access-control-request-headers": "x-api-key",
        },
      }),
    );
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-headers")).toContain("X-API-Key");
    expect(res.headers.get("access-control-allow-headers")).toContain("Idempotency-Key");
    const get = await call("GET", "/v0/namespaces", { headers: { origin: "http://127.0.0.1:3001" } });
    expect(get.headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:3001");
    expect(get.headers.get("access-control-expose-headers")).toContain("x-exosphere-request-id");
    expect(get.headers.get("access-control-expose-headers")).toContain("Idempotent-Replayed");
  });

  it("does not allow other origins, and honours CORS_ORIGINS", async () => {
    const evil = await call("GET", "/v0/namespaces", { headers: { origin: "https://evil.example" } });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const configured = { ...env, CORS_ORIGINS: "https://app.example, https://other.example" };
    const req = () =>
      new Request("http://x/health", { headers: { origin: "https://other.example", "x-api-key": KEY } });
    const res = await app.fetch(req(), configured);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://other.example");
    const local = await app.fetch(
      new Request("http://x/health", { headers: { origin: "http://localhost:3000" } }),
      configured,
    );
    expect(local.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("request bodies", () => {
  it("answers a body that is not JSON with FastAPI's json_invalid 422", async () => {
    const ns = freshNamespace();
    const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, { body: "{not json" });
    const body = (await expectJson(res, 422)) as { detail: Array<Record<string, unknown>> };
    expect(body.detail).toHaveLength(1);
    expect(body.detail[0]).toMatchObject({ type: "json_invalid", msg: "JSON decode error", input: {} });
    expect(body.detail[0]?.loc).toEqual(["body", expect.any(Number)]);
    const after = await call("GET", `/v0/namespace/${ns}/nodes/`);
    expect(await expectJson(after, 200)).toMatchObject({ count: 0 });
  });

  it("answers an empty body with a missing-body 422", async () => {
    const res = await call("PUT", `/v0/namespace/${freshNamespace()}/nodes/`, { body: "" });
    expect(await expectJson(res, 422)).toEqual({
      detail: [{ type: "missing", loc: ["body"], msg: "Field required", input: null }],
    });
  });

  it("refuses a body over the limit with 413 JSON, declared or streamed", async () => {
    const ns = freshNamespace();
    const big = `{"runtime_name":"r","nodes":[],"pad":"${"x".repeat(MAX_BODY_BYTES)}"}`;
    const declared = await call("PUT", `/v0/namespace/${ns}/nodes/`, { body: big });
    expect(((await expectJson(declared, 413)) as { detail: string }).detail).toContain(
      String(MAX_BODY_BYTES),
    );
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 11) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const streamed = await call("PUT", `/v0/namespace/${ns}/nodes/`, { body: stream });
    await expectJson(streamed, 413);
  });

  it("reports schema violations in pydantic's shape", async () => {
    const res = await call("PUT", `/v0/namespace/${freshNamespace()}/nodes/`, {
      body: JSON.stringify({ nodes: [{ name: 7, inputs_schema: {}, outputs_schema: {}, secrets: [] }] }),
    });
    const body = (await expectJson(res, 422)) as { detail: unknown[] };
    expect(body.detail).toContainEqual({
      type: "missing",
      loc: ["body", "runtime_name"],
      msg: "Field required",
      input: { nodes: [{ name: 7, inputs_schema: {}, outputs_schema: {}, secrets: [] }] },
    });
    expect(body.detail).toContainEqual({
      type: "string_type",
      loc: ["body", "nodes", 0, "name"],
      msg: "Input should be a valid string",
      input: 7,
    });
  });
});
