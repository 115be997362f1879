// A unite's array gathered from several actors, page by page, in fan-out order.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gatherArray, type SubtreeReader, sortsBefore } from "../../src/engine/run/gather";

interface Item {
  lineage: string;
  index: number;
  seq: number;
  /** JSON text; null: the state has no such field. */
  value: string | null;
}

/** A reader over a sorted list, answering at most `page` items after a position, counting its reads. */
function reader(items: Item[], page: number, reads: number[]): SubtreeReader {
  return async (after) => {
    reads.push(1);
    const from = after ? items.findIndex((i) => sortsBefore(after, i)) : 0;
    const slice = from < 0 ? [] : items.slice(from, from + page);
    return {
      seqs: slice.map((i) => i.seq),
      indexes: slice.map((i) => i.index),
      lineages: slice.map((i) => i.lineage),
      values: slice.map((i) => i.value),
    };
  };
}
const item = (lineage: string, seq: number, value: unknown, has = true, index = 0): Item => ({
  lineage,
  index,
  seq,
  value: has ? JSON.stringify(value) : null,
});

describe("gatherArray", () => {
  it("merges the actors' pages into fan-out order, ties by seq, leaving out states without the field", async () => {
    const reads: number[] = [];
    const a = [item("a1", 1, "1"), item("a4", 2, "4"), item("a7", 3, "7"), item("a9", 4, "9")];
    const b = [item("a2", 20, "2"), item("a4", 21, "4b"), item("a5", 22, null, false), item("a8", 23, "8")];
    const c = [item("a3", 40, { x: 3 }), item("a6", 41, "6")];
    const text = await gatherArray([reader(a, 2, reads), reader(b, 2, reads), reader(c, 2, reads)], 2);
    expect(JSON.parse(text)).toEqual(["1", "2", { x: 3 }, "4", "4b", "6", "7", "8", "9"]);
    // Pages, not one read per value.
    expect(reads.length).toBeLessThan(10);
  });

  it("orders an execution's clones spread over the actors by output index, not by seq", async () => {
    // One lineage (one execution): its head and clones 1, 2 in one actor, clones 3, 4 in others whose
    // seqs sort before (a shard's seqs) and after (another shard's) the first actor's.
    const head = [item("e", 10, "0", true, 0), item("e", 11, "1", true, 1), item("e", 12, "2", true, 2)];
    const low = [item("e", 5, "3", true, 3)];
    const high = [item("e", 90, "4", true, 4)];
    const text = await gatherArray([reader(head, 1, []), reader(low, 1, []), reader(high, 1, [])], 1);
    expect(JSON.parse(text)).toEqual(["0", "1", "2", "3", "4"]);
  });

  it("keeps a null value, which is not a missing one", async () => {
    const text = await gatherArray([reader([item("a1", 1, null), item("a2", 2, 5)], 5, [])], 5);
    expect(text).toBe("[null,5]");
  });

  it("answers an empty array when no actor has a value", async () => {
    expect(await gatherArray([reader([], 5, []), reader([], 5, [])], 5)).toBe("[]");
  });

  it("answers every actor's values in fan-out order, whatever the actors, pages and values", async () => {
    const items = fc.uniqueArray(
      fc.record({
        lineage: fc.constantFrom("a", "a.1", "a.2", "b"),
        index: fc.nat(6),
        seq: fc.nat(1_000),
        value: fc.option(fc.integer(), { nil: null }),
        actor: fc.nat(3),
      }),
      { selector: (i) => i.seq, maxLength: 60 },
    );
    await fc.assert(
      fc.asyncProperty(items, fc.integer({ min: 1, max: 7 }), async (all, page) => {
        const sorted = all
          .map((i) => ({ ...i, value: i.value === null ? null : JSON.stringify(i.value) }))
          .sort((x, y) => (sortsBefore(x, y) ? -1 : sortsBefore(y, x) ? 1 : 0));
        const reads: number[] = [];
        const readers = [0, 1, 2, 3].map((k) =>
          reader(
            sorted.filter((i) => i.actor === k),
            page,
            reads,
          ),
        );
        const text = await gatherArray(readers, page);
        expect(JSON.parse(text)).toEqual(
          sorted.filter((i) => i.value !== null).map((i) => JSON.parse(i.value as string)),
        );
        // Each actor is read a page at a time: at most its pages plus the read that finds it done.
        expect(reads.length).toBeLessThanOrEqual(4 + Math.ceil(all.length / page) + 4);
      }),
      { numRuns: 300 },
    );
  });
});
