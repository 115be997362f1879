// Pydantic's lax integer, which Exosphere's request models use for every integer field: 5000, 5000.0
// and "5000" (blanks around it allowed) are 5000; 5000.5 and "abc" are not integers.
import { z } from "zod";

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;

/**
 * A string that spells an integer becomes that number; anything else is returned as it is, so the schema
 * that follows (`z.int()`) reports it with its own issue.
 */
export function laxInteger(value: unknown): unknown {
  return typeof value === "string" && INTEGER_TEXT.test(value) ? Number(value.trim()) : value;
}

/** `schema` (an integer schema) reading pydantic's lax integers. */
export const laxInt = <T extends z.ZodType>(schema: T) => z.preprocess(laxInteger, schema);
