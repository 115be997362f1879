// Rendering a new state's inputs from its node template (spec §4.2, §4.5), with Exosphere's messages.
import { exceedsBytes, MAX_STATE_VALUE_BYTES } from "../limits";
import type { NodeTemplate } from "../model";
import { type PlaceholderRef, renderTemplate } from "../template/placeholders";
import type { GraphIndex } from "./graph-index";

/** A reason a state's children (or a unite state) could not be created. */
export class RenderError extends Error {
  override readonly name = "RenderError";
}

export type Resolve = (ref: PlaceholderRef) => string;

export function renderInputs(
  graph: GraphIndex,
  node: NodeTemplate,
  resolve: Resolve,
): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const field of graph.inputFields(node)) {
    if (!(field in node.inputs)) {
      throw new RenderError(`Field '${field}' not found in inputs for template '${node.identifier}'`);
    }
    const parsed = graph.template(node, field);
    if (!parsed) throw new RenderError(`Input ${field} of template '${node.identifier}' is not a string`);
    inputs[field] = renderTemplate(parsed, resolve);
  }
  const json = JSON.stringify(inputs);
  if (exceedsBytes(json, MAX_STATE_VALUE_BYTES)) {
    throw new RenderError(
      `Inputs of '${node.identifier}' would be larger than ${MAX_STATE_VALUE_BYTES} bytes`,
    );
  }
  return inputs;
}

export function outputString(
  outputs: Record<string, unknown>,
  field: string,
  identifier: string,
  target: string,
): string {
  if (!(field in outputs)) {
    throw new RenderError(
      `Output field '${field}' not found on state '${identifier}' for template '${target}'`,
    );
  }
  const value = outputs[field];
  if (typeof value !== "string") {
    throw new RenderError(`Output field '${field}' on state '${identifier}' is not a string`);
  }
  return value;
}
