import { describe, expect, it } from "vitest";
import { z } from "zod";
import { laxInt, laxInteger } from "../../src/engine/lax-integer";

describe("laxInteger (pydantic's lax int)", () => {
  it("reads strings that spell an integer, blanks and sign included", () => {
    expect(laxInteger("5000")).toBe(5000);
    expect(laxInteger(" +16 ")).toBe(16);
    expect(laxInteger("-3")).toBe(-3);
  });

  it("leaves everything else for the schema to judge", () => {
    for (const value of ["5000.5", "abc", "", "1e3", 5000.5, null, true])
      expect(laxInteger(value)).toBe(value);
    expect(laxInteger(16)).toBe(16);
  });

  it('makes an integer schema accept 16, 16.0 and "16" alike and refuse 16.5', () => {
    const schema = laxInt(z.int());
    expect([schema.parse(16), schema.parse(16.0), schema.parse("16")]).toEqual([16, 16, 16]);
    expect(schema.safeParse(16.5).success).toBe(false);
    expect(schema.safeParse("16.5").success).toBe(false);
  });
});
