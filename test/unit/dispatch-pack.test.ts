// Packing ready states into queue messages and sendBatch calls within the platform's limits.
import { describe, expect, it } from "vitest";
import type { DispatchedState } from "../../src/contracts/dispatch";
import { byteLength, packMessages } from "../../src/dispatch/pack";
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES } from "../../src/engine/limits";

const state = (i: number, inputBytes = 10): DispatchedState => ({
  id: `0123456789abcdef${i.toString(16).padStart(8, "0")}`,
  node: "N",
  ns: "t",
  identifier: "n",
  inputs: { v: "x".repeat(inputBytes) },
});

function check(batches: ReturnType<typeof packMessages>, states: DispatchedState[], perMessage: number) {
  // Every state exactly once, in order.
  expect(batches.flat().flatMap((m) => m.states)).toEqual(states);
  for (const batch of batches) {
    expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_MESSAGES);
    expect(batch.reduce((sum, m) => sum + byteLength(m), 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    for (const message of batch) {
      expect(message.states.length).toBeLessThanOrEqual(perMessage);
      expect(byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(message).toMatchObject({ v: 1, run: "r" });
    }
  }
}

describe("packMessages", () => {
  it("puts at most statesPerMessage states in a message and 100 messages in a batch", () => {
    const states = Array.from({ length: 10_000 }, (_, i) => state(i));
    const batches = packMessages("r", states, { statesPerMessage: 16 });
    check(batches, states, 16);
    expect(batches.flat()).toHaveLength(625);
    expect(batches[0]).toHaveLength(MAX_BATCH_MESSAGES);
  });

  it("cuts messages and batches by bytes when states are large", () => {
    const states = Array.from({ length: 300 }, (_, i) => state(i, 15_000));
    const batches = packMessages("r", states, { statesPerMessage: 64 });
    check(batches, states, 64);
    // ~15 KB a state: a batch of 240 KB holds far fewer than 100 messages.
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThan(MAX_BATCH_MESSAGES);
  });

  it("sends nothing for no states", () => {
    expect(packMessages("r", [], { statesPerMessage: 64 })).toEqual([]);
  });
});
