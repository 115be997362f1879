// The benchmark's reading of the machine's stolen CPU time (scripts/bench/processes.mjs), printed with
// every row so that a run slowed down by the host can be told from a slow engine.
import { describe, expect, it } from "vitest";
import { cpuTimes, stealPercent } from "../../scripts/bench/processes.mjs";

describe("stolen CPU time", () => {
  it("is the share of the machine's CPU time between two readings that went to other guests", () => {
    expect(stealPercent({ total: 1_000, steal: 10 }, { total: 3_000, steal: 210 })).toBe(10);
    expect(stealPercent({ total: 1_000, steal: 10 }, { total: 2_000, steal: 10 })).toBe(0);
  });

  it("is unknown without two readings, or when no time passed", () => {
    expect(stealPercent(null, { total: 1, steal: 0 })).toBeNull();
    expect(stealPercent({ total: 1, steal: 0 }, null)).toBeNull();
    expect(stealPercent({ total: 5, steal: 1 }, { total: 5, steal: 1 })).toBeNull();
  });

  it("is read from the machine's counters where it has them", () => {
    const first = cpuTimes();
    if (process.platform !== "linux") {
      expect(first).toBeNull();
      return;
    }
    expect(first?.total).toBeGreaterThan(0);
    expect(first?.steal).toBeGreaterThanOrEqual(0);
    expect(first?.steal).toBeLessThanOrEqual(first?.total ?? 0);
  });
});
