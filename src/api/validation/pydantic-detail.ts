// FastAPI answers a request that fails validation with 422 and a list of pydantic error objects
// `{type, loc, msg, input, ctx?}`. Clients written against Exosphere (and its dashboard) read that
// shape, so zod issues are translated into it here, once, for every body and path parameter.
import type { z } from "zod";

export type Loc = Array<string | number>;

export interface PydanticError {
  type: string;
  loc: Loc;
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

type Issue = z.core.$ZodIssue;

const TYPE_NAMES: Record<string, [type: string, noun: string]> = {
  string: ["string_type", "a valid string"],
  number: ["float_type", "a valid number"],
  int: ["int_type", "a valid integer"],
  boolean: ["bool_type", "a valid boolean"],
  object: ["dict_type", "a valid dictionary"],
  record: ["dict_type", "a valid dictionary"],
  array: ["list_type", "a valid list"],
  tuple: ["tuple_type", "a valid tuple"],
  null: ["none_required", "None"],
};

/** The pydantic errors for a failed zod parse of `input`, located under `root` ("body", "path", ...). */
export function pydanticErrors(issues: readonly Issue[], input: unknown, root: Loc): PydanticError[] {
  return issues.flatMap((issue) => translate(issue, input, root));
}

function translate(issue: Issue, body: unknown, root: Loc): PydanticError[] {
  const path = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
  const loc = [...root, ...path];
  const present = lookup(body, path);
  const value = present.found ? present.value : undefined;

  switch (issue.code) {
    case "invalid_type": {
      if (!present.found) {
        // pydantic reports a missing field with the object that lacks it as the input.
        return [
          {
            type: "missing",
            loc,
            msg: "Field required",
            input: lookup(body, path.slice(0, -1)).value ?? null,
          },
        ];
      }
      const [type, noun] = TYPE_NAMES[issue.expected] ?? [
        `${issue.expected}_type`,
        `a valid ${issue.expected}`,
      ];
      return [{ type, loc, msg: `Input should be ${noun}`, input: value }];
    }
    case "too_small":
      return [bound(issue.origin, "min", issue.minimum, issue.inclusive ?? true, loc, value)];
    case "too_big":
      return [bound(issue.origin, "max", issue.maximum, issue.inclusive ?? true, loc, value)];
    case "invalid_value": {
      const options = issue.values.map((v) => (typeof v === "string" ? `'${v}'` : String(v)));
      const expected =
        options.length <= 1 ? (options[0] ?? "") : `${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
      return [{ type: "enum", loc, msg: `Input should be ${expected}`, input: value, ctx: { expected } }];
    }
    case "invalid_format":
      return [
        {
          type: "string_pattern_mismatch",
          loc,
          msg: `Input should be a valid ${issue.format}`,
          input: value,
        },
      ];
    case "invalid_key":
      return issue.issues.flatMap((inner) => translate({ ...inner, path: [] }, undefined, loc));
    case "invalid_union": {
      // Report the first alternative's errors, as pydantic's smart union does for the closest match.
      const first = issue.errors[0];
      if (first && first.length > 0) return first.flatMap((inner) => translate(inner, value, loc));
      return [{ type: "union_tag_invalid", loc, msg: issue.message, input: value }];
    }
    case "custom":
      // ctx.error as pydantic's own JSON renders the ValueError: its message (FastAPI's encoder gives {}).
      return [
        {
          type: "value_error",
          loc,
          msg: `Value error, ${issue.message}`,
          input: value,
          ctx: { error: issue.message },
        },
      ];
    default:
      return [{ type: "value_error", loc, msg: `Value error, ${issue.message}`, input: value }];
  }
}

function bound(
  origin: string,
  side: "min" | "max",
  limit: number | bigint,
  inclusive: boolean,
  loc: Loc,
  input: unknown,
): PydanticError {
  const n = Number(limit);
  if (origin === "string" || origin === "array" || origin === "set") {
    const what = origin === "string" ? "character" : "item";
    const plural = n === 1 ? "" : "s";
    if (origin === "string") {
      return side === "min"
        ? { type: "string_too_short", loc, msg: `String should have at least ${n} ${what}${plural}`, input }
        : { type: "string_too_long", loc, msg: `String should have at most ${n} ${what}${plural}`, input };
    }
    return side === "min"
      ? { type: "too_short", loc, msg: `List should have at least ${n} ${what}${plural}`, input }
      : { type: "too_long", loc, msg: `List should have at most ${n} ${what}${plural}`, input };
  }
  if (side === "min") {
    return inclusive
      ? {
          type: "greater_than_equal",
          loc,
          msg: `Input should be greater than or equal to ${n}`,
          input,
          ctx: { ge: n },
        }
      : { type: "greater_than", loc, msg: `Input should be greater than ${n}`, input, ctx: { gt: n } };
  }
  return inclusive
    ? {
        type: "less_than_equal",
        loc,
        msg: `Input should be less than or equal to ${n}`,
        input,
        ctx: { le: n },
      }
    : { type: "less_than", loc, msg: `Input should be less than ${n}`, input, ctx: { lt: n } };
}

function lookup(root: unknown, path: Loc): { found: boolean; value: unknown } {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) {
      return { found: false, value: undefined };
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  return { found: true, value: current };
}
