import { describe, expect, it } from "vitest";
import type { RetryPolicy, RetryStrategy } from "../../src/engine/model";
import { RETRY_DELAY_CEILING_MS, retryDelayMs } from "../../src/engine/retry";

const policy = (strategy: RetryStrategy, over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  max_retries: 3,
  strategy,
  backoff_factor: 1000,
  exponent: 2,
  max_delay: null,
  ...over,
});

const atZero = () => 0;
const atOne = () => 1;
const delays = (p: RetryPolicy, ns: number[], random?: () => number) =>
  ns.map((n) => retryDelayMs(p, n, random));

describe("retryDelayMs", () => {
  it("rejects a retry count below 1 with Exosphere's message", () => {
    expect(() => retryDelayMs(policy("EXPONENTIAL"), 0)).toThrow(
      "Retry count must be greater than or equal to 1, got 0",
    );
    expect(() => retryDelayMs(policy("FIXED"), -3)).toThrow("got -3");
  });

  it("grows exponentially: bf=1000, e=2 gives 1000, 2000, 4000", () => {
    expect(delays(policy("EXPONENTIAL"), [1, 2, 3])).toEqual([1000, 2000, 4000]);
  });

  it("uses the exponent: bf=1000, e=3 gives 1000, 3000, 9000", () => {
    expect(delays(policy("EXPONENTIAL", { exponent: 3 }), [1, 2, 3])).toEqual([1000, 3000, 9000]);
  });

  it("caps by max_delay: 1000, 2000, 3000 with max_delay 3000", () => {
    expect(delays(policy("EXPONENTIAL", { max_delay: 3000 }), [1, 2, 3, 10])).toEqual([
      1000, 2000, 3000, 3000,
    ]);
  });

  it("grows linearly: 1000, 2000, 3000", () => {
    expect(delays(policy("LINEAR"), [1, 2, 3])).toEqual([1000, 2000, 3000]);
  });

  it("stays fixed at the backoff factor", () => {
    expect(delays(policy("FIXED"), [1, 2, 3, 50])).toEqual([1000, 1000, 1000, 1000]);
  });

  it("spreads full jitter over [0, base] for n=1", () => {
    expect(retryDelayMs(policy("EXPONENTIAL_FULL_JITTER"), 1, atZero)).toBe(0);
    expect(retryDelayMs(policy("EXPONENTIAL_FULL_JITTER"), 1, atOne)).toBe(1000);
    expect(retryDelayMs(policy("EXPONENTIAL_FULL_JITTER"), 1, () => 0.25)).toBe(250);
  });

  it("spreads equal jitter over [base/2, base] for n=1", () => {
    expect(retryDelayMs(policy("EXPONENTIAL_EQUAL_JITTER"), 1, atZero)).toBe(500);
    expect(retryDelayMs(policy("EXPONENTIAL_EQUAL_JITTER"), 1, atOne)).toBe(1000);
  });

  it("applies jitter to each family's own base", () => {
    // n=3: exponential base 4000, linear base 3000, fixed base 1000.
    expect(retryDelayMs(policy("EXPONENTIAL_FULL_JITTER"), 3, atOne)).toBe(4000);
    expect(retryDelayMs(policy("EXPONENTIAL_EQUAL_JITTER"), 3, atZero)).toBe(2000);
    expect(retryDelayMs(policy("LINEAR_FULL_JITTER"), 3, atOne)).toBe(3000);
    expect(retryDelayMs(policy("LINEAR_FULL_JITTER"), 3, atZero)).toBe(0);
    expect(retryDelayMs(policy("LINEAR_EQUAL_JITTER"), 3, atZero)).toBe(1500);
    expect(retryDelayMs(policy("LINEAR_EQUAL_JITTER"), 3, atOne)).toBe(3000);
    expect(retryDelayMs(policy("FIXED_FULL_JITTER"), 3, atOne)).toBe(1000);
    expect(retryDelayMs(policy("FIXED_FULL_JITTER"), 3, atZero)).toBe(0);
    expect(retryDelayMs(policy("FIXED_EQUAL_JITTER"), 3, atZero)).toBe(500);
    expect(retryDelayMs(policy("FIXED_EQUAL_JITTER"), 3, atOne)).toBe(1000);
  });

  it("truncates jittered delays to whole milliseconds", () => {
    expect(retryDelayMs(policy("FIXED_FULL_JITTER", { backoff_factor: 3 }), 1, () => 0.5)).toBe(1);
    expect(retryDelayMs(policy("FIXED_EQUAL_JITTER", { backoff_factor: 3 }), 1, () => 0.5)).toBe(2);
  });

  it("caps jittered delays by max_delay after jitter", () => {
    const p = policy("EXPONENTIAL_EQUAL_JITTER", { max_delay: 3000 });
    expect(retryDelayMs(p, 5, atZero)).toBe(3000); // base 16000, jittered 8000, capped
    expect(retryDelayMs(policy("EXPONENTIAL_FULL_JITTER", { max_delay: 3000 }), 5, atZero)).toBe(0);
  });

  it("stays exact for integer results below the ceiling", () => {
    expect(retryDelayMs(policy("EXPONENTIAL", { backoff_factor: 1, exponent: 3 }), 33)).toBe(
      1853020188851841,
    );
    expect(retryDelayMs(policy("EXPONENTIAL", { backoff_factor: 7, exponent: 3 }), 20)).toBe(7 * 3 ** 19);
  });

  it("never returns Infinity or NaN for huge exponents", () => {
    for (const strategy of ["EXPONENTIAL", "EXPONENTIAL_FULL_JITTER", "EXPONENTIAL_EQUAL_JITTER"] as const) {
      for (const random of [atZero, atOne, () => 0.5]) {
        const uncapped = retryDelayMs(policy(strategy, { exponent: 10 }), 100_000, random);
        expect(Number.isSafeInteger(uncapped)).toBe(true);
        expect(uncapped).toBeLessThanOrEqual(RETRY_DELAY_CEILING_MS);
        const capped = retryDelayMs(policy(strategy, { exponent: 10, max_delay: 60_000 }), 100_000, random);
        expect(Number.isSafeInteger(capped)).toBe(true);
        expect(capped).toBeLessThanOrEqual(60_000);
      }
    }
    expect(retryDelayMs(policy("EXPONENTIAL", { exponent: 10 }), 100_000)).toBe(RETRY_DELAY_CEILING_MS);
    expect(retryDelayMs(policy("EXPONENTIAL", { exponent: 10, max_delay: 60_000 }), 100_000)).toBe(60_000);
    expect(
      retryDelayMs(policy("EXPONENTIAL_FULL_JITTER", { exponent: 10, max_delay: 60_000 }), 1e6, atOne),
    ).toBe(60_000);
  });

  it("keeps now + delay a valid Date at the ceiling", () => {
    const at = Date.UTC(2100, 0, 1) + retryDelayMs(policy("LINEAR", { backoff_factor: 2 ** 40 }), 2 ** 30);
    expect(Number.isSafeInteger(at)).toBe(true);
    expect(Number.isNaN(new Date(at).getTime())).toBe(false);
  });
});
