// The root state's inputs at trigger time (spec §2.8 steps 4–6), with Exosphere's details.
import { DomainError, PayloadTooLargeError, ValidationError } from "../errors";
import { exceedsBytes, MAX_STATE_VALUE_BYTES, MAX_STORE_VALUE_BYTES, MAX_TRIGGER_WARNINGS } from "../limits";
import type { NodeTemplate, StoreConfig } from "../model";
import { PlaceholderSyntaxError, parseTemplate, renderTemplate } from "./placeholders";
import { pySetRepr, pyStr } from "./py-repr";
import type { TriggerBody } from "./request-schema";

export interface RootInputs {
  /** the root state's rendered inputs */
  inputs: Record<string, string>;
  /** the run's initial store: every key of the trigger body, declared or not */
  store: Record<string, string>;
  /** what the trigger asked for that was ignored (body inputs the root does not have); empty if nothing */
  warnings: string[];
}

/**
 * Body inputs override the template's values for keys the template has; extra keys are ignored, as in
 * Exosphere, but named in `warnings` so that a misspelt input is not lost silently. The root may only
 * read the store. Required store keys are checked after rendering, as Exosphere does, so a request with
 * both problems reports the rendering one.
 */
export function resolveRootInputs(
  root: NodeTemplate,
  body: TriggerBody,
  storeConfig: StoreConfig,
): RootInputs {
  const inputs: Record<string, string> = {};
  for (const [key, templateValue] of Object.entries(root.inputs)) {
    const value = Object.hasOwn(body.inputs, key) ? body.inputs[key] : templateValue;
    if (typeof value !== "string") {
      throw new ValidationError(
        `Invalid input: Input ${key} of root node ${root.identifier} is not a string`,
      );
    }
    inputs[key] = renderRootValue(value, root, body, storeConfig);
  }

  const missing = storeConfig.required_keys.filter((k) => !Object.hasOwn(body.store, k));
  if (missing.length > 0) throw new ValidationError(`Missing store keys: ${pySetRepr(missing)}`);
  // Both are stored in one row each (the root state, a store entry): they must fit a Durable Object's row.
  if (exceedsBytes(JSON.stringify(inputs), MAX_STATE_VALUE_BYTES)) {
    throw new PayloadTooLargeError(
      `Root inputs are larger than ${MAX_STATE_VALUE_BYTES} bytes`,
      MAX_STATE_VALUE_BYTES,
    );
  }
  // Each store key is one row; the route's schema already refused larger values (this guards cron and
  // any other caller).
  for (const [key, value] of Object.entries(body.store)) {
    if (exceedsBytes(value, MAX_STORE_VALUE_BYTES)) {
      throw new PayloadTooLargeError(
        `Store value ${key} is larger than ${MAX_STORE_VALUE_BYTES} bytes`,
        MAX_STORE_VALUE_BYTES,
      );
    }
  }
  return { inputs, store: { ...body.store }, warnings: ignoredInputWarnings(root, body) };
}

/**
 * One warning per ignored input, at most MAX_TRIGGER_WARNINGS of them (the rest counted in one more):
 * warnings are kept in the run's meta row, which a body of many thousand keys must not overflow.
 */
function ignoredInputWarnings(root: NodeTemplate, body: TriggerBody): string[] {
  const known = Object.keys(root.inputs);
  const has = known.length > 0 ? `its inputs are ${listSome(known)}` : "it has no inputs";
  const ignored = Object.keys(body.inputs).filter((key) => !Object.hasOwn(root.inputs, key));
  const warnings = ignored
    .slice(0, MAX_TRIGGER_WARNINGS)
    .map((key) => `Input ${key} is not an input of root node ${root.identifier} and was ignored (${has})`);
  const more = ignored.length - MAX_TRIGGER_WARNINGS;
  if (more > 0)
    warnings.push(`${more} more inputs are not inputs of root node ${root.identifier} and were ignored`);
  return warnings;
}

/** `a, b, c`, or the first MAX_TRIGGER_WARNINGS names and how many more. */
function listSome(names: string[]): string {
  const more = names.length - MAX_TRIGGER_WARNINGS;
  const shown = names.slice(0, MAX_TRIGGER_WARNINGS).join(", ");
  return more > 0 ? `${shown} and ${more} more` : shown;
}

function renderRootValue(
  value: string,
  root: NodeTemplate,
  body: TriggerBody,
  storeConfig: StoreConfig,
): string {
  try {
    return renderTemplate(parseTemplate(value), (ref) => {
      // Exosphere raises an HTTPException inside its own try and re-wraps it, hence "400: " in the text.
      if (ref.kind !== "store") {
        throw wrapped(`400: Root node can have only store identifier as dependent but got ${ref.identifier}`);
      }
      const fromBody = Object.hasOwn(body.store, ref.key) ? body.store[ref.key] : undefined;
      if (fromBody !== undefined) return fromBody;
      const fallback = Object.hasOwn(storeConfig.default_values, ref.key)
        ? storeConfig.default_values[ref.key]
        : undefined;
      if (fallback !== undefined) return fallback;
      throw wrapped(`400: Dependent ${ref.key} not found in store for root node ${root.identifier}`);
    });
  } catch (e) {
    if (e instanceof DomainError) throw e;
    if (e instanceof PlaceholderSyntaxError) throw wrapped(e.message);
    throw wrapped(pyStr(e instanceof Error ? e.message : e));
  }
}

const wrapped = (message: string) => new ValidationError(`Invalid input: ${message}`);
