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
 * The source text of each top-level element of a JSON array that JSON.parse has accepted. Chunks are
 * rebuilt from these slices instead of re-serialising parsed values, so numbers keep their exact digits
 * (an integer beyond 2^53 or `1.50` survives unchanged) and nested values are not reformatted.
 */
export function topLevelElements(validJsonArray: string): string[] {
  const elements: string[] = [];
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
      if (depth === 1) pushElement(elements, validJsonArray.slice(start, i));
      depth--;
    } else if (ch === "," && depth === 1) {
      pushElement(elements, validJsonArray.slice(start, i));
      start = i + 1;
    }
  }
  return elements;
}

function pushElement(elements: string[], raw: string): void {
  const trimmed = raw.trim();
  // An empty array `[]` yields one empty slice; a valid array has no other empty element.
  if (trimmed !== "") elements.push(trimmed);
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
