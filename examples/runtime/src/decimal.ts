// Exact decimal sums for the example nodes. JSON numbers become doubles when parsed, so 0.1 + 0.2 and any
// integer beyond 2^53 would come out wrong; instead each number is read from its source text as
// `digits × 10^exponent` with a BigInt `digits`, and sums are done on BigInts.

/** `digits × 10^exponent`, exactly. */
export interface Decimal {
  digits: bigint;
  exponent: number;
}

/**
 * Bound on the decimal exponent of a value, about the range of a double. It keeps the BigInt work per
 * number small: without it a 10-byte "1e99999999" would ask for a hundred-million-digit integer.
 */
export const MAX_DECIMAL_EXPONENT = 400;

/** The JSON number grammar (RFC 8259 §6), which is also what the nodes accept as a decimal string. */
const JSON_NUMBER = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Every JSON number token in a text, in order. */
const JSON_NUMBER_TOKENS = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Reads a decimal written in JSON number syntax; returns an error message instead when it is not one. */
export function parseDecimal(text: string): Decimal | string {
  const match = JSON_NUMBER.exec(text);
  if (match === null) return `'${preview(text)}' is not a decimal number`;
  const [, sign = "", whole = "", fraction = "", exp = "0"] = match;
  const exponent = Number(exp) - fraction.length;
  const magnitude = Number(exp) + whole.length;
  if (
    !Number.isFinite(exponent) ||
    Math.abs(exponent) > MAX_DECIMAL_EXPONENT ||
    magnitude > MAX_DECIMAL_EXPONENT
  ) {
    return `'${preview(text)}' is outside the supported range (about 1e-${MAX_DECIMAL_EXPONENT} to 1e${MAX_DECIMAL_EXPONENT})`;
  }
  const digits = BigInt(`${sign}${whole}${fraction}`);
  return { digits, exponent };
}

/**
 * The number tokens of a text that JSON.parse has already shown to be a flat array of numbers, so that its
 * only tokens besides punctuation and whitespace are numbers: the matches are exactly its elements, in order.
 */
export function numberTokens(jsonArrayOfNumbers: string): string[] {
  return jsonArrayOfNumbers.match(JSON_NUMBER_TOKENS) ?? [];
}

export function sumDecimals(values: readonly Decimal[]): Decimal {
  if (values.length === 0) return { digits: 0n, exponent: 0 };
  // A loop, not Math.min(...): a spread of a million values overflows the stack.
  let exponent = Number.POSITIVE_INFINITY;
  for (const v of values) exponent = Math.min(exponent, v.exponent);
  let digits = 0n;
  for (const v of values) digits += v.digits * 10n ** BigInt(v.exponent - exponent);
  return { digits, exponent };
}

/** `a + b`, exactly, at the smaller of their exponents (a running sum, one value at a time). */
export function addDecimals(a: Decimal, b: Decimal): Decimal {
  if (a.exponent === b.exponent) return { digits: a.digits + b.digits, exponent: a.exponent };
  const [low, high] = a.exponent < b.exponent ? [a, b] : [b, a];
  return { digits: low.digits + high.digits * 10n ** BigInt(high.exponent - low.exponent), exponent: low.exponent };
}

/** Plain decimal notation without exponent or trailing fractional zeros: `3`, `-0.25`, `1200`. */
export function formatDecimal({ digits, exponent }: Decimal): string {
  if (digits === 0n) return "0";
  const negative = digits < 0n;
  let text = (negative ? -digits : digits).toString();
  let exp = exponent;
  while (exp < 0 && text.endsWith("0")) {
    text = text.slice(0, -1);
    exp += 1;
  }
  let out: string;
  if (exp >= 0) {
    out = text + "0".repeat(exp);
  } else {
    const point = text.length + exp;
    out = point > 0 ? `${text.slice(0, point)}.${text.slice(point)}` : `0.${"0".repeat(-point)}${text}`;
  }
  return negative ? `-${out}` : out;
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
