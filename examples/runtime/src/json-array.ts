// Input parsing shared by the example nodes. Their messages become the state's error, so each one says
// which input is wrong and how.

/** Parses `text` as a JSON array or throws an Error naming the input. */
export function parseJsonArray(input: string, text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`Input '${input}' is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(value)) throw new Error(`Input '${input}' must be a JSON array, got ${kindOf(value)}`);
  return value;
}

/**
 * The source text of each top-level element of a JSON array that JSON.parse has accepted, one at a time
 * (a million elements are never held at once). Chunks are rebuilt from these slices instead of
 * re-serialising parsed values, so numbers keep their exact digits (an integer beyond 2^53 or `1.50`
 * survives unchanged) and nested values are not reformatted.
 */
export function* topLevelElements(validJsonArray: string): Generator<string> {
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < validJsonArray.length; i++) {
    const ch = validJsonArray[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
    } else if (ch === "[" || ch === "{") {
      depth++;
      if (depth === 1) start = i + 1;
    } else if (ch === "]" || ch === "}") {
      if (depth === 1) {
        // An empty array `[]` has one empty slice; a valid array has no other empty element.
        const last = validJsonArray.slice(start, i).trim();
        if (last !== "") yield last;
      }
      depth--;
    } else if (ch === "," && depth === 1) {
      yield validJsonArray.slice(start, i).trim();
      start = i + 1;
    }
  }
}

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * Hands `each` every element of a JSON array of strings, decoded, in order, without building the array
 * (a million results are one 9 MB text, but over 100 MB as a million values). Answers true when the whole
 * text is such an array and `each` accepted every element; false as soon as either is not so, and then the
 * caller reads the text in full, for its precise message. Whitespace is JSON's; an element with an escape
 * is decoded by JSON.parse.
 */
export function forEachJsonString(text: string, each: (value: string) => boolean): boolean {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN) return false;
  i = skipWhitespace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE) return skipWhitespace(text, i + 1) === text.length;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return false;
    let end = i + 1;
    let escaped = false;
    for (;; end++) {
      if (end >= text.length) return false;
      const c = text.charCodeAt(end);
      if (c === QUOTE) break;
      if (c < 0x20) return false; // a control character must be escaped in JSON
      if (c === BACKSLASH) {
        escaped = true;
        end++;
      }
    }
    let value: unknown = text.slice(i + 1, end);
    if (escaped) {
      try {
        value = JSON.parse(text.slice(i, end + 1));
      } catch {
        return false;
      }
    }
    if (!each(value as string)) return false;
    i = skipWhitespace(text, end + 1);
    const next = text.charCodeAt(i);
    if (next === CLOSE) return skipWhitespace(text, i + 1) === text.length;
    if (next !== COMMA) return false;
    i = skipWhitespace(text, i + 1);
  }
}

/** The index of the first character at or after `from` that is not JSON whitespace. */
function skipWhitespace(text: string, from: number): number {
  let i = from;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Reads a positive integer written in decimal digits, or throws an Error naming the input. */
export function parsePositiveInteger(input: string, text: string): number {
  const trimmed = text.trim();
  if (!/^\+?\d+$/.test(trimmed)) throw new Error(`Input '${input}' must be a whole number, got '${text}'`);
  const value = Number(trimmed);
  if (value < 1) throw new Error(`Input '${input}' must be at least 1, got ${value}`);
  if (!Number.isSafeInteger(value)) throw new Error(`Input '${input}' is too large: ${trimmed}`);
  return value;
}

export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
