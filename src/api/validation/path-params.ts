// Path parameters that must be integers (the runs list's page and size). A value that is not an integer,
// or out of range, is the client's mistake: 422 in pydantic's shape, never a 500 from a negative offset.
import { UnprocessableError } from "../../engine/errors";
import { laxInteger } from "../../engine/lax-integer";
import type { PydanticError } from "./pydantic-detail";

export interface IntRange {
  min: number;
  max: number;
}

/** Parses `raw` as pydantic's lax int does for a path segment ("5", " 5 ", "+5"); throws 422 otherwise. */
export function intPathParam(
  name: string,
  raw: string,
  range: IntRange,
  where: "path" | "query" = "path",
): number {
  const loc = [where, name];
  const value = laxInteger(raw);
  if (typeof value !== "number") {
    throw unprocessable({
      type: "int_parsing",
      loc,
      msg: "Input should be a valid integer, unable to parse string as an integer",
      input: raw,
    });
  }
  if (value < range.min) {
    throw unprocessable({
      type: "greater_than_equal",
      loc,
      msg: `Input should be greater than or equal to ${range.min}`,
      input: raw,
      ctx: { ge: range.min },
    });
  }
  if (value > range.max) {
    throw unprocessable({
      type: "less_than_equal",
      loc,
      msg: `Input should be less than or equal to ${range.max}`,
      input: raw,
      ctx: { le: range.max },
    });
  }
  return value;
}

export function unprocessable(error: PydanticError): UnprocessableError {
  return new UnprocessableError([error]);
}
