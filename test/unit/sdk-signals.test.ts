import { describe, expect, it } from "vitest";
import { isSignal, PruneSignal, ReQueueAfterSignal } from "../../src/sdk";

describe("PruneSignal", () => {
  it("carries its data, empty by default", () => {
    expect(new PruneSignal().data).toEqual({});
    expect(new PruneSignal({ reason: "duplicate" }).data).toEqual({ reason: "duplicate" });
    expect(new PruneSignal().kind).toBe("prune");
  });

  it("refuses data that is not an object", () => {
    expect(() => new PruneSignal([] as never)).toThrow("PruneSignal data must be a plain object");
    expect(() => new PruneSignal(null as never)).toThrow("PruneSignal data must be a plain object");
  });
});

describe("ReQueueAfterSignal", () => {
  it("takes milliseconds", () => {
    expect(new ReQueueAfterSignal(1500).delayMs).toBe(1500);
    expect(new ReQueueAfterSignal(1500).kind).toBe("requeue");
  });

  it("takes a duration and adds its parts", () => {
    expect(new ReQueueAfterSignal({ hours: 1 }).delayMs).toBe(3_600_000);
    expect(new ReQueueAfterSignal({ minutes: 1, seconds: 30 }).delayMs).toBe(90_000);
    expect(new ReQueueAfterSignal({ seconds: 2, milliseconds: 5 }).delayMs).toBe(2005);
    expect(new ReQueueAfterSignal({ hours: 1, minutes: -30 }).delayMs).toBe(1_800_000);
  });

  it("rounds a fractional millisecond up, never down to zero", () => {
    expect(new ReQueueAfterSignal(0.2).delayMs).toBe(1);
    expect(new ReQueueAfterSignal({ seconds: 0.0015 }).delayMs).toBe(2);
  });

  it.each([
    [0, /must be positive and finite, got 0 ms/],
    [-5, /must be positive and finite, got -5 ms/],
    [Number.NaN, /must be positive and finite, got NaN ms/],
    [Number.POSITIVE_INFINITY, /must be positive and finite/],
    [{}, /must be positive and finite, got 0 ms/],
    [{ seconds: 0 }, /must be positive and finite, got 0 ms/],
    [{ minutes: -1 }, /must be positive and finite, got -60000 ms/],
    [{ seconds: Number.NaN }, /seconds must be a finite number, got NaN/],
    [{ days: 1 }, /unknown unit 'days'; use hours, minutes, seconds or milliseconds/],
    ["5s", /must be a number of milliseconds or/],
    [1e300, /too large/],
  ])("refuses %j when built", (delay, message) => {
    expect(() => new ReQueueAfterSignal(delay as never)).toThrow(message);
  });
});

describe("isSignal", () => {
  it("recognises both signals and nothing else", () => {
    expect(isSignal(new PruneSignal())).toBe(true);
    expect(isSignal(new ReQueueAfterSignal(1))).toBe(true);
    expect(isSignal(new Error("x"))).toBe(false);
    expect(isSignal({ kind: "prune", data: {} })).toBe(false);
    expect(isSignal(null)).toBe(false);
  });

  it("recognises a signal from another copy of the SDK by its registry symbol", () => {
    const foreign = { [Symbol.for("exoflare.node-signal")]: true, kind: "requeue", delayMs: 10 };
    expect(isSignal(foreign)).toBe(true);
  });
});
