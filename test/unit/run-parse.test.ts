// The run actor's stored rows are parsed, not cast: malformed data is a StoredDataError naming it.
import { describe, expect, it } from "vitest";
import {
  parseInputs,
  parseObject,
  parseParents,
  parseSeqs,
  parseSettleDelta,
  parseSpawnBatch,
  parseStatus,
} from "../../src/actors/run-parse";
import { StoredDataError } from "../../src/actors/stored";

describe("parsing the run actor's stored rows", () => {
  it("accepts what the store writes", () => {
    expect(parseStatus("QUEUED")).toBe("QUEUED");
    expect(parseParents('[["p",1,1],["q",5,3]]')).toEqual([
      ["p", 1, 1],
      ["q", 5, 3],
    ]);
    expect(parseInputs('{"v":"x"}', "inputs")).toEqual({ v: "x" });
    expect(parseObject('{"n":1}', "outputs")).toEqual({ n: 1 });
    expect(parseSeqs("[1,2]", "round")).toEqual([1, 2]);
    expect(parseSettleDelta('{"counts":{"SUCCESS":2},"barriers":[]}')).toEqual({
      counts: { SUCCESS: 2 },
      barriers: [],
    });
    const batch = {
      head: { seq: 1, identifier: "p", node_name: "P", namespace: "t", parents: [], lineage: "" },
      spawn: [],
      members: [{ fanout_index: 1, outputs: { v: "1" }, inputs: [] }],
    };
    expect(parseSpawnBatch(JSON.stringify(batch))).toEqual(batch);
    // Which children the run actor counted QUEUED survives the outbox (a shard recounts from it).
    const counted = { ...batch, queued: ["q"] };
    expect(parseSpawnBatch(JSON.stringify(counted))).toEqual(counted);
    // A batch of the shape written before (children whole, fan-out ids from the run actor).
    const legacy = {
      head: batch.head,
      members: [
        {
          fanout_index: 2,
          fanout_id: "f2",
          outputs: { v: "2" },
          children: [
            { identifier: "q", node_name: "Q", namespace: "t", inputs: { v: "2" }, fanout_id: "g2" },
          ],
        },
      ],
    };
    expect(parseSpawnBatch(JSON.stringify(legacy))).toEqual({
      head: batch.head,
      spawn: [{ identifier: "q", node_name: "Q", namespace: "t" }],
      members: [{ fanout_index: 2, outputs: { v: "2" }, inputs: [{ v: "2" }] }],
    });
  });

  it.each([
    ["an unknown status", () => parseStatus("DONE")],
    ["parents that are not triples", () => parseParents('[["p",1]]')],
    ["inputs that are not strings", () => parseInputs('{"v":1}', "inputs")],
    ["an object column holding a list", () => parseObject("[]", "outputs")],
    ["text that is not JSON", () => parseObject("{", "outputs")],
    ["seqs that are not numbers", () => parseSeqs('["1"]', "round")],
    ["a settle delta with an unknown status", () => parseSettleDelta('{"counts":{"DONE":1},"barriers":[]}')],
    ["a spawn batch without members", () => parseSpawnBatch('{"head":{}}')],
  ])("refuses %s", (_what, parse) => {
    expect(parse).toThrow(StoredDataError);
  });
});
