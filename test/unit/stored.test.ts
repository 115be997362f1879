import { describe, expect, it } from "vitest";
import { z } from "zod";
import { jsonText, parseStored, StoredDataError } from "../../src/actors/stored";

const Row = z.object({ name: z.string(), tags: jsonText(z.array(z.string())) });

describe("parseStored", () => {
  it("parses a row and its JSON columns", () => {
    expect(parseStored(Row, { name: "a", tags: '["x","y"]' }, "row a")).toEqual({
      name: "a",
      tags: ["x", "y"],
    });
  });

  it("names what was read and what is wrong when a column is not JSON or has drifted", () => {
    expect(() => parseStored(Row, { name: "a", tags: "[x" }, "row a")).toThrow(
      /stored row a is malformed:.*not JSON/s,
    );
    const drifted = () => parseStored(Row, { name: "a", tags: '[1, "y"]' }, "row a");
    expect(drifted).toThrow(StoredDataError);
    expect(drifted).toThrow(/tags/);
  });
});
