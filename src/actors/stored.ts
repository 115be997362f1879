// Data read back from storage is parsed, not cast: a row written by an older version of the code, or
// edited by hand, fails here, naming what is wrong, instead of somewhere deep in the engine.
import { z } from "zod";

/** A stored row or value that does not have the shape the code expects. */
export class StoredDataError extends Error {
  constructor(
    /** What was being read, e.g. "graph template g". */
    readonly what: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`stored ${what} is malformed: ${reason}`, options);
    this.name = "StoredDataError";
  }
}

/** A TEXT column holding JSON, parsed and then checked against `schema`. */
export const jsonText = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        ctx.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** `value` (a row, or a parsed column) as `schema` says, or a StoredDataError naming `what`. */
export function parseStored<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new StoredDataError(what, z.prettifyError(parsed.error), { cause: parsed.error });
}
