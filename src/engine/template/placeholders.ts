// `${{ }}` placeholders in node input strings (spec §4.2), parsed and rendered exactly as Exosphere does.

/** What one placeholder reads: a field of an earlier node's outputs, or a key of the run's store. */
export type PlaceholderRef =
  | { kind: "output"; identifier: string; field: string }
  | { kind: "store"; key: string };

export interface TemplatePart {
  ref: PlaceholderRef;
  /** Literal text between this placeholder and the next one (or the end). */
  tail: string;
}

export interface ParsedTemplate {
  /** Literal text before the first placeholder. */
  head: string;
  parts: TemplatePart[];
}

/** A malformed placeholder; the message is Exosphere's, which clients match on. */
export class PlaceholderSyntaxError extends Error {
  override readonly name = "PlaceholderSyntaxError";

  constructor(
    message: string,
    readonly source: string,
  ) {
    super(message);
  }
}

const OPEN = "${{";
const CLOSE = "}}";

export function parseTemplate(source: string): ParsedTemplate {
  const [head = "", ...chunks] = source.split(OPEN);
  const parts: TemplatePart[] = [];
  for (const chunk of chunks) {
    const close = chunk.indexOf(CLOSE);
    if (close < 0) {
      throw new PlaceholderSyntaxError(
        `Invalid syntax string placeholder ${chunk} for: ${source} '${OPEN}' not closed`,
        source,
      );
    }
    const content = chunk.slice(0, close);
    parts.push({ ref: parseReference(content, source), tail: chunk.slice(close + CLOSE.length) });
  }
  return { head, parts };
}

function parseReference(content: string, source: string): PlaceholderRef {
  const segments = content.split(".").map((s) => s.trim());
  const [first = "", second = "", third = ""] = segments;
  // Exosphere checks the three-part form first, so `store.outputs.x` names the store key `x`: its
  // identifier is "store", which every consumer treats as a store read. Kept for compatibility.
  if (segments.length === 3 && second === "outputs") {
    return first === "store"
      ? { kind: "store", key: third }
      : { kind: "output", identifier: first, field: third };
  }
  if (segments.length === 2 && first === "store") return { kind: "store", key: second };
  throw new PlaceholderSyntaxError(`Invalid syntax string placeholder ${content} for: ${source}`, source);
}

/** Identity of a reference: the same identity always renders to the same value. */
export function refKey(ref: PlaceholderRef): string {
  return ref.kind === "store" ? `store\u0000${ref.key}` : `${ref.identifier}\u0000${ref.field}`;
}

/** The distinct references of a template, in order of first appearance. */
export function templateRefs(parsed: ParsedTemplate): PlaceholderRef[] {
  const seen = new Map<string, PlaceholderRef>();
  for (const { ref } of parsed.parts) {
    const key = refKey(ref);
    if (!seen.has(key)) seen.set(key, ref);
  }
  return [...seen.values()];
}

/**
 * `head + Σ(value_i + tail_i)`. `resolve` is asked once per distinct reference, so every occurrence of a
 * reference gets the same value (Exosphere sets one value per (identifier, field)); it may throw to
 * report a value that cannot be found.
 */
export function renderTemplate(parsed: ParsedTemplate, resolve: (ref: PlaceholderRef) => string): string {
  const values = new Map<string, string>();
  let out = parsed.head;
  for (const { ref, tail } of parsed.parts) {
    const key = refKey(ref);
    let value = values.get(key);
    if (value === undefined) {
      value = resolve(ref);
      values.set(key, value);
    }
    out += value + tail;
  }
  return out;
}
