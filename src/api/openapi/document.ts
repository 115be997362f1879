// The OpenAPI 3.1 document of the whole API, assembled from operations.ts: request and response bodies are
// converted from their zod schemas by zod's own `z.toJSONSchema` (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1), so the document says what the routes check, not what someone remembered to write down.
// Pure: no actor or Worker import, so it is built the same way in Node (tests) and in the Worker.
import { z } from "zod";
import pkg from "../../../package.json";
import { components, type OperationSpec, operations, type ParamSpec } from "./operations";

type Json = Record<string, unknown>;

const TAGS = [
  { name: "meta", description: "Liveness and this document (no API key)" },
  { name: "namespaces", description: "Namespaces" },
  { name: "nodes", description: "Node registration (runtimes)" },
  { name: "graphs", description: "Graph templates" },
  { name: "runs", description: "Triggering and inspecting runs" },
  { name: "live", description: "Our extension: a run per node, once or live" },
  { name: "runtime", description: "The pull-runtime protocol: claim states, report results" },
];

/** `/v0/namespace/:namespace/graph/:graph` → `/v0/namespace/{namespace}/graph/{graph}` */
export const openApiPath = (honoPath: string): string => honoPath.replace(/:([A-Za-z_]+)/g, "{$1}");

function paramSchema(p: ParamSpec): Json {
  return {
    type: p.type,
    ...(p.minimum !== undefined ? { minimum: p.minimum } : {}),
    ...(p.maximum !== undefined ? { maximum: p.maximum } : {}),
  };
}

function componentSchemas(): { schemas: Record<string, Json>; ref: (s: z.ZodType) => Json } {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  for (const [id, schema] of Object.entries(components)) {
    registry.add(schema, { id });
    ids.set(schema, id);
  }
  const converted = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    // Requests as a client writes them (before defaults and transforms); responses have neither.
    io: "input",
    // A transform's output cannot be described; its input (what the client sends) is.
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  const schemas: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(converted.schemas)) {
    // OpenAPI 3.1's schemas are 2020-12 by default (jsonSchemaDialect); the document root resolves the
    // `#/components/schemas/…` references, so neither a per-schema $schema nor an $id is wanted.
    const { $schema: _dialect, $id: _id, ...rest } = schema as Json;
    schemas[id] = tidy(rest) as Json;
  }
  const ref = (schema: z.ZodType): Json => {
    const id = ids.get(schema);
    if (id === undefined) throw new Error("a schema of an operation is not among the document's components");
    return { $ref: `#/components/schemas/${id}` };
  };
  return { schemas, ref };
}

/** Drops the bounds zod gives every integer (±(2^53 − 1)): true of any JSON integer a client sends. */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (node === null || typeof node !== "object") return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "minimum" && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === "maximum" && value === Number.MAX_SAFE_INTEGER) continue;
    out[key] = tidy(value);
  }
  return out;
}

const json = (schema: Json) => ({ "application/json": { schema } });

function operationObject(op: OperationSpec, ref: (s: z.ZodType) => Json): Json {
  const pathParams = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] as string);
  const parameters = [
    ...pathParams.map((name) => {
      const typed = op.pathTypes?.[name];
      return {
        name,
        in: "path",
        required: true,
        schema: typed ? paramSchema(typed) : { type: "string" },
        ...(typed ? { description: typed.description } : {}),
      };
    }),
    ...Object.entries(op.query ?? {}).map(([name, p]) => ({
      name,
      in: "query",
      required: false,
      description: p.description,
      schema: paramSchema(p),
    })),
  ];
  const responses: Record<string, Json> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    const content = spec.stream
      ? { [spec.stream]: { schema: { type: "string" } } }
      : json(spec.schema ? ref(spec.schema) : { type: "object" });
    responses[status] = { description: spec.description, content };
  }
  const error = (description: string, schema: z.ZodType) => ({ description, content: json(ref(schema)) });
  if (op.auth !== false) {
    responses["401"] ??= error("no API key, or not the engine's", components.ErrorBody as z.ZodType);
    responses["503"] ??= error("the engine has no API key configured", components.ErrorBody as z.ZodType);
  }
  const validated = op.body !== undefined || op.pathTypes !== undefined || op.query !== undefined;
  if (validated) {
    responses["422"] ??= error(
      "the request does not match its schema",
      components.ValidationErrorBody as z.ZodType,
    );
  }
  if (op.body !== undefined) {
    responses["413"] ??= error("the body is larger than 10 MiB", components.ErrorBody as z.ZodType);
  }
  responses["500"] ??= error("an unexpected error", components.InternalErrorBody as z.ZodType);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(op.extension ? { "x-exoflare-extension": true } : {}),
    ...(op.auth === false ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: json(ref(op.body)) } } : {}),
    responses,
  };
}

/** Builds the document (pure; callers may cache it). */
export function buildOpenApiDocument(): Json {
  const { schemas, ref } = componentSchemas();
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const path = openApiPath(op.path);
    paths[path] = { ...paths[path], [op.method]: operationObject(op, ref) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "exoflare",
      version: pkg.version,
      description:
        "Exosphere's state manager API, served by exoflare. Operations marked `x-exoflare-extension` " +
        "are ours; every other one is wire-compatible with Exosphere. Every route but /health and " +
        "/openapi.json needs the API key in the `x-api-key` header.",
      license: { name: pkg.license, identifier: pkg.license },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    tags: TAGS,
    security: [{ ApiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { ApiKey: { type: "apiKey", in: "header", name: "x-api-key" } },
    },
  };
}

let cached: Json | undefined;
/** The document, built once per isolate. */
export function openApiDocument(): Json {
  cached ??= buildOpenApiDocument();
  return cached;
}
