import { z } from "zod";
import type { NodeRegistration } from "../contracts";
import {
  type AnyNode,
  NodeDefinitionError,
  nodeDefinitionProblems,
  nodeNameOf,
  type StringSchema,
} from "./base-node";

export type { NodeRegistration };

/**
 * What a runtime registers for a node. Throws NodeDefinitionError if the node's schemas are not all strings.
 *
 * The schemas are shaped like Pydantic's `model_json_schema()`, which is what Exosphere's verifier and
 * dashboard read: `type: "object"`, `properties` with `type: "string"` and a title-cased `title` per field,
 * `required` only when non-empty, and a model `title` (`Inputs` / `Outputs`). zod's `$schema` and
 * `additionalProperties: false` are dropped: Pydantic emits neither, and unknown input keys are ignored
 * (stripped), not rejected, at execution.
 */
export function toRegisteredNode(node: AnyNode): NodeRegistration {
  const problems = nodeDefinitionProblems(node);
  if (problems.length > 0) throw new NodeDefinitionError(problems);
  return {
    name: nodeNameOf(node),
    inputs_schema: pydanticLike(node.inputs, "Inputs"),
    outputs_schema: pydanticLike(node.outputs, "Outputs"),
    secrets: node.secrets === undefined ? [] : Object.keys(node.secrets.shape),
  };
}

function pydanticLike(schema: StringSchema, title: string): Record<string, unknown> {
  // io "input": describes what the node accepts, without zod's output-only additionalProperties: false.
  const json = z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>;
  const properties: Record<string, Record<string, unknown>> = {};
  for (const [field, property] of Object.entries(
    (json.properties ?? {}) as Record<string, Record<string, unknown>>,
  )) {
    properties[field] = { title: fieldTitle(field), ...property };
  }
  const required = Array.isArray(json.required) ? json.required : [];
  const {
    $schema: _schema,
    additionalProperties: _additional,
    properties: _properties,
    required: _required,
    ...rest
  } = json;
  return {
    title,
    ...rest,
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
  };
}

/** Pydantic's default field title (Python's `str.title()`, `_` as space): `chunk_size` → `Chunk Size`. */
function fieldTitle(field: string): string {
  return field
    .replace(/_/g, " ")
    .replace(/[A-Za-z]+/g, (word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase());
}
