import type { RetryPolicy } from "./model";

/**
 * Upper bound on any retry delay, in milliseconds (2^52 ms, about 142,000 years).
 *
 * Exosphere computes `bf·e^(n-1)` with unbounded Python integers; a JavaScript number would overflow to
 * Infinity. Capping here keeps `now + delay` a safe integer and a valid `Date`, so a retry scheduled with an
 * absurd policy is merely "never in practice" instead of NaN or a corrupted timestamp. Only policies whose
 * delay already exceeds 142,000 years see a different value than Exosphere would compute.
 */
export const RETRY_DELAY_CEILING_MS = 2 ** 52;

/**
 * The delay in milliseconds before retry number `retryCount` (the new state's `retry_count`, ≥ 1) runs,
 * with Exosphere's nine strategies (spec §4.7):
 *
 * | strategy family | base            | *_FULL_JITTER      | *_EQUAL_JITTER                 |
 * | EXPONENTIAL     | `bf·e^(n-1)`    | `trunc(U[0,base])` | `trunc(base/2 + U[0,base/2])`  |
 * | LINEAR          | `bf·n`          | same               | same                           |
 * | FIXED           | `bf`            | same               | same                           |
 *
 * then `min(delay, max_delay)` when `max_delay` is set, then {@link RETRY_DELAY_CEILING_MS}.
 * `random` returns a float in [0, 1] (Python's `uniform` is inclusive); inject it to make jitter deterministic.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retryCount: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(retryCount) || retryCount < 1) {
    throw new RangeError(`Retry count must be greater than or equal to 1, got ${retryCount}`);
  }
  const base = baseDelay(policy, retryCount);
  let delay: number;
  switch (jitterOf(policy.strategy)) {
    case "none":
      delay = base;
      break;
    case "full":
      delay = Math.trunc(random() * base);
      break;
    case "equal":
      delay = Math.trunc(base / 2 + random() * (base / 2));
      break;
  }
  if (policy.max_delay !== null) delay = Math.min(delay, policy.max_delay);
  // trunc again: a (defensively allowed) fractional backoff_factor must not yield a fractional timestamp.
  return Math.trunc(Math.min(delay, RETRY_DELAY_CEILING_MS));
}

type Jitter = "none" | "full" | "equal";

function jitterOf(strategy: RetryPolicy["strategy"]): Jitter {
  if (strategy.endsWith("_FULL_JITTER")) return "full";
  if (strategy.endsWith("_EQUAL_JITTER")) return "equal";
  return "none";
}

/**
 * The un-jittered base. Exact while it stays a safe integer (integer policies, as Exosphere's are); beyond
 * that a finite float no larger than Number.MAX_VALUE, so jitter arithmetic never meets Infinity or NaN.
 */
function baseDelay(policy: RetryPolicy, n: number): number {
  const bf = policy.backoff_factor;
  if (policy.strategy.startsWith("EXPONENTIAL")) return finite(bf * power(policy.exponent, n - 1));
  if (policy.strategy.startsWith("LINEAR")) return finite(bf * n);
  return finite(bf);
}

/**
 * `e^k`, exact for integer results up to 2^53: repeated multiplication stops as soon as the value leaves the
 * safe range (at most 53 steps for e ≥ 2), after which precision no longer matters because the delay is capped.
 */
function power(e: number, k: number): number {
  if (e <= 1 || !Number.isInteger(e)) return e ** k;
  let p = 1;
  for (let i = 0; i < k; i++) {
    p *= e;
    if (p > Number.MAX_SAFE_INTEGER) return e ** k;
  }
  return p;
}

function finite(x: number): number {
  if (Number.isNaN(x)) throw new RangeError("Retry delay is not a number; check backoff_factor and exponent");
  return Math.min(x, Number.MAX_VALUE);
}
