import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exceedsBytes, jsonNestsDeeperThan, utf8Length, valueNestsDeeperThan } from "../../src/engine/limits";

describe("utf8Length", () => {
  const encoded = (s: string) => new TextEncoder().encode(s).length;

  it("is the UTF-8 length TextEncoder gives, ASCII or not, lone surrogates included", () => {
    for (const s of ["", "abc", "é", "€", "😀", "a\ud800b", "\udc00", "\u007f\u0080"]) {
      expect(utf8Length(s)).toBe(encoded(s));
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => utf8Length(s) === encoded(s)),
      { numRuns: 500 },
    );
  });

  it("decides exceedsBytes by bytes, not characters", () => {
    expect(exceedsBytes("é".repeat(600), 1_000)).toBe(true); // 600 characters, 1,200 bytes
    expect(exceedsBytes("e".repeat(1_000), 1_000)).toBe(false);
  });
});

const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
const objects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

describe("jsonNestsDeeperThan", () => {
  it("measures the nesting of arrays and objects, up to and past the bound", () => {
    expect(jsonNestsDeeperThan(arrays(3), 3)).toBe(false);
    expect(jsonNestsDeeperThan(arrays(4), 3)).toBe(true);
    expect(jsonNestsDeeperThan(objects(3), 3)).toBe(false);
    expect(jsonNestsDeeperThan(objects(4), 3)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":[1,{"b":[]}],"c":{}}', 4)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":[1,{"b":[]}],"c":{}}', 3)).toBe(true);
    expect(jsonNestsDeeperThan("[[],[],[],[]]", 2)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    expect(jsonNestsDeeperThan(JSON.stringify({ s: "[[[[{{{{" }), 1)).toBe(false);
    expect(jsonNestsDeeperThan(JSON.stringify({ s: 'say "[[[[" \\' }), 1)).toBe(false);
    expect(jsonNestsDeeperThan(JSON.stringify(["\\", [[]]]), 2)).toBe(true);
  });

  it("scans 100,000 levels without recursion", () => {
    expect(jsonNestsDeeperThan(arrays(100_000), 128)).toBe(true);
  });
});

describe("valueNestsDeeperThan", () => {
  it("agrees with the text scan on parsed values, however deep", () => {
    for (const text of [arrays(5), objects(5), '{"a":[1,{"b":[]}]}', "1", '"x"', "null"]) {
      for (const max of [0, 1, 2, 3, 4, 5, 6]) {
        expect(valueNestsDeeperThan(JSON.parse(text), max)).toBe(jsonNestsDeeperThan(text, max));
      }
    }
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(valueNestsDeeperThan(deep, 128)).toBe(true);
  });
});
