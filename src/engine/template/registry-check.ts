// Tier 3 of graph validation (spec §4.1.4): the template against the registered nodes, with Exosphere's
// messages and order. An empty list means VALID.
import type { NodeTemplate, RegisteredNode } from "../model";
import { type PlaceholderRef, parseTemplate, templateRefs } from "./placeholders";
import { pyStr } from "./py-repr";

export type RegisteredNodeLookup = (nodeName: string, namespace: string) => RegisteredNode | undefined;

/** A schema Exosphere's schema-to-model conversion cannot handle; it makes verification fail as a whole. */
class SchemaError extends Error {
  override readonly name = "SchemaError";
}

// String formats that Exosphere's converter turns into a non-str type (datetime, AnyUrl, UUID, ...).
const NON_STRING_FORMATS = new Set(["date-time", "date", "time", "uri", "uuid"]);

export function verifyGraph(
  nodes: readonly NodeTemplate[],
  secretNames: readonly string[],
  lookup: RegisteredNodeLookup,
): string[] {
  try {
    const registry = new Registry(lookup);
    return [
      ...missingNodeErrors(nodes, registry),
      ...missingSecretErrors(nodes, secretNames, registry),
      ...inputErrors(nodes, registry),
    ];
  } catch (e) {
    return [`Validation failed due to unexpected error: ${e instanceof Error ? e.message : String(e)}`];
  }
}

/** Looks each (node_name, namespace) pair up once. */
class Registry {
  private readonly found = new Map<string, RegisteredNode | undefined>();

  constructor(private readonly lookup: RegisteredNodeLookup) {}

  get(node: NodeTemplate): RegisteredNode | undefined {
    const key = JSON.stringify([node.node_name, node.namespace]);
    if (!this.found.has(key)) this.found.set(key, this.lookup(node.node_name, node.namespace));
    return this.found.get(key);
  }
}

function uniquePairs(nodes: readonly NodeTemplate[]): NodeTemplate[] {
  const seen = new Set<string>();
  return nodes.filter((n) => {
    const key = JSON.stringify([n.node_name, n.namespace]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function missingNodeErrors(nodes: readonly NodeTemplate[], registry: Registry): string[] {
  return uniquePairs(nodes)
    .filter((n) => registry.get(n) === undefined)
    .map((n) => `Node ${n.node_name} in namespace ${n.namespace} does not exist.`);
}

function missingSecretErrors(
  nodes: readonly NodeTemplate[],
  secretNames: readonly string[],
  registry: Registry,
): string[] {
  const present = new Set(secretNames);
  const required = new Set<string>();
  for (const node of uniquePairs(nodes)) {
    for (const secret of registry.get(node)?.secrets ?? []) required.add(secret);
  }
  return [...required]
    .filter((s) => !present.has(s))
    .map((s) => `Secret ${s} is required but not present in the graph template`);
}

function inputErrors(nodes: readonly NodeTemplate[], registry: Registry): string[] {
  const byId = new Map(nodes.map((n) => [n.identifier, n]));
  const errors: string[] = [];
  for (const node of nodes) {
    const registered = registry.get(node);
    const where = `in node ${node.node_name} in namespace ${node.namespace}`;
    // An unregistered node was reported once already, by missingNodeErrors (Exosphere repeats it here).
    if (!registered) continue;
    for (const [field, schema] of schemaProperties(registered.inputs_schema)) {
      if (!isPlainString(schema)) errors.push(`Input ${field} ${where} is not a string`);
      else if (!Object.hasOwn(node.inputs, field)) {
        errors.push(`Input ${field} ${where} is not present in the graph template`);
      }
    }
    // Every input is parsed before any placeholder is checked, as Exosphere does; a failure here is
    // "unexpected" because Tier 2 already rejects such templates.
    const refLists = Object.values(node.inputs).map((value) => {
      if (typeof value !== "string") throw new Error(`Input ${pyStr(value)} is not a string`);
      return templateRefs(parseTemplate(value));
    });
    // Placeholders into a unite's subtree (our FIX) need no special case: only existence is checked here.
    for (const ref of refLists.flat()) {
      const error = outputReferenceError(ref, byId, registry);
      if (error) errors.push(error);
    }
  }
  return errors;
}

function outputReferenceError(
  ref: PlaceholderRef,
  byId: ReadonlyMap<string, NodeTemplate>,
  registry: Registry,
): string | undefined {
  if (ref.kind === "store") return undefined;
  const source = byId.get(ref.identifier);
  if (!source) return `Node ${ref.identifier} does not exist in the graph template`;
  const registered = registry.get(source);
  // Reported once already by missingNodeErrors; its fields cannot be checked.
  if (!registered) return undefined;
  const where = `in node ${source.node_name} in namespace ${source.namespace}`;
  const schema = schemaProperties(registered.outputs_schema).get(ref.field);
  if (schema === undefined) return `Field ${ref.field} ${where} does not exist`;
  if (!isPlainString(schema)) return `Field ${ref.field} ${where} is not a string`;
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The fields of the model Exosphere builds from a JSON schema: its top-level `properties`. */
function schemaProperties(schema: Record<string, unknown>): Map<string, unknown> {
  const properties = schema.properties;
  if (properties === undefined) return new Map();
  if (!isObject(properties)) throw new SchemaError("Schema 'properties' must be an object");
  return new Map(Object.entries(properties));
}

/**
 * Whether a property converts to Python's plain `str`, following the converter's order of checks. Schemas
 * it would fail on throw, which turns into "Validation failed due to unexpected error: ...".
 */
function isPlainString(schema: unknown): boolean {
  if (!isObject(schema)) throw new SchemaError(`Invalid schema: expected dict, got ${typeName(schema)}`);
  if ("$ref" in schema || "allOf" in schema || "anyOf" in schema || "oneOf" in schema) return false;
  if ("const" in schema) return false;
  const type = schema.type;
  if (type === "null" || type === "array" || type === "object") return false;
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== "null");
    if (type.includes("null") && others.length === 1) return false;
    throw new SchemaError("Unsupported type combination");
  }
  if ("enum" in schema) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) {
      throw new SchemaError("Enum must have at least one value");
    }
    return false;
  }
  if (!type) throw new SchemaError("Schema must specify a type");
  if (type === "string") return typeof schema.format !== "string" || !NON_STRING_FORMATS.has(schema.format);
  // The converter maps integer/number/boolean to their Python types and anything unknown to str.
  return !(type === "integer" || type === "number" || type === "boolean");
}

function typeName(v: unknown): string {
  if (v === null) return "<class 'NoneType'>";
  if (Array.isArray(v)) return "<class 'list'>";
  if (typeof v === "string") return "<class 'str'>";
  if (typeof v === "boolean") return "<class 'bool'>";
  if (typeof v === "number") return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
  return `<class '${typeof v}'>`;
}
