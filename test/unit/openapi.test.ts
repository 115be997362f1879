// The OpenAPI document: valid OpenAPI 3.1 (checked by a validator of the specification's own JSON schemas),
// every schema in it a valid JSON Schema 2020-12, and generated from the very zod schemas the routes
// validate with. That it lists exactly the app's routes is checked in workerd (test/integration/openapi).
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/api/openapi/document";
import { components, operations } from "../../src/api/openapi/operations";
import { manualRetryBodySchema, triggerRequestSchema } from "../../src/api/schemas/request-bodies";
import { upsertGraphBodySchema } from "../../src/engine/template/request-schema";

// biome-ignore lint/suspicious/noExplicitAny: the test walks a parsed JSON document by known paths
type Json = Record<string, any>;

const doc = buildOpenApiDocument() as Json;

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has schemas that compile as JSON Schema 2020-12 in strict mode", () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    for (const [id, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
      expect(() => ajv.compile(schema), id).not.toThrow();
    }
  });

  it("describes the request bodies the routes validate with", () => {
    // The same schema objects, not copies.
    expect(components.UpsertGraphRequest).toBe(upsertGraphBodySchema);
    expect(components.TriggerRequest).toBe(triggerRequestSchema);
    expect(components.ManualRetryRequest).toBe(manualRetryBodySchema);
    const upsert = doc.paths["/v0/namespace/{namespace}/graph/{graph}"].put;
    expect(upsert.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/UpsertGraphRequest",
    });
    const schema = doc.components.schemas.UpsertGraphRequest;
    expect(schema.required).toEqual(expect.arrayContaining(["secrets", "nodes"]));
    // A default (retry_policy) makes a field optional for the client.
    expect(schema.required).not.toContain("retry_policy");
    expect(schema.properties.nodes.maxItems).toBe(1000);
    expect(schema.properties.retry_policy.properties.strategy.enum).toContain("EXPONENTIAL_FULL_JITTER");
  });

  it("validates real bodies the way the route does", () => {
    const ajv = new Ajv2020({ strict: false });
    const check = ajv.compile(doc.components.schemas.TriggerRequest);
    expect(check({ inputs: { data: "[1]" }, start_delay: 0 })).toBe(true);
    expect(triggerRequestSchema.safeParse({ inputs: { data: 1 } }).success).toBe(false);
    expect(check({ inputs: { data: 1 } })).toBe(false);
    // Our wait_ms, bounded the same way in both.
    expect(check({ wait_ms: 20_000 })).toBe(true);
    expect(triggerRequestSchema.safeParse({ wait_ms: 20_001 }).success).toBe(false);
    expect(check({ wait_ms: 20_001 })).toBe(false);
  });

  it("marks which operations need no key and which are ours", () => {
    expect(doc.paths["/health"].get.security).toEqual([]);
    expect(doc.paths["/openapi.json"].get.security).toEqual([]);
    expect(doc.security).toEqual([{ ApiKey: [] }]);
    expect(doc.components.securitySchemes.ApiKey).toEqual({
      type: "apiKey",
      in: "header",
      name: "x-api-key",
    });
    const runs = doc.paths["/v0/namespace/{namespace}/runs/{page}/{size}"].get;
    expect(runs["x-exoflare-extension"]).toBeUndefined();
    expect(runs.responses["401"]).toBeDefined();
    expect(runs.parameters.find((p: Json) => p.name === "size").schema).toEqual({
      type: "integer",
      minimum: 1,
      maximum: 1000,
    });
    const events = doc.paths["/v0/namespace/{namespace}/states/run/{run_id}/events"].get;
    expect(events["x-exoflare-extension"]).toBe(true);
    expect(Object.keys(events.responses["200"].content)).toEqual(["text/event-stream"]);
  });

  it("names every operation once", () => {
    const ids = operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const keys = operations.map((o) => `${o.method} ${o.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
