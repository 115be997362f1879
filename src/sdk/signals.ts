// Signals are thrown from `execute` to end a state in a way other than success or error, as in the Python
// SDK. They are recognised by a registry-wide symbol rather than `instanceof`, so a node bundled with a
// different copy of this SDK than the runtime that executes it is still understood.
const SIGNAL = Symbol.for("exoflare.node-signal");

abstract class NodeSignal extends Error {
  readonly [SIGNAL] = true;
  abstract readonly kind: "prune" | "requeue";
}

/**
 * Ends this branch: the state becomes PRUNED and creates no children. `data` is sent to the engine and kept
 * on the state, e.g. why the branch was dropped.
 */
export class PruneSignal extends NodeSignal {
  readonly kind = "prune";
  readonly data: Record<string, unknown>;

  constructor(data: Record<string, unknown> = {}) {
    super("Prune signal: this branch ends here");
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new TypeError("PruneSignal data must be a plain object");
    }
    this.name = "PruneSignal";
    this.data = data;
  }
}

/** A duration as its parts; they are added up, so `{ minutes: 1, seconds: 30 }` is 90 seconds. */
export interface Duration {
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
}

const UNIT_MS: Readonly<Record<keyof Duration, number>> = {
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1_000,
  milliseconds: 1,
};

/**
 * Puts the same state back to CREATED and runs it again, with the same inputs, after `delay`: a number of
 * milliseconds or a {@link Duration}. Used for polling. It does not count as a retry.
 *
 * The delay must be positive and finite; it is rejected here, when the signal is built, as the Python SDK
 * rejects a non-positive `timedelta`. A fractional millisecond count is rounded up, so the engine never sees
 * zero and the state never runs earlier than asked.
 */
export class ReQueueAfterSignal extends NodeSignal {
  readonly kind = "requeue";
  /** The delay in whole milliseconds, ≥ 1. */
  readonly delayMs: number;

  constructor(delay: number | Duration) {
    const ms = toMilliseconds(delay);
    super(`Re-queue signal: run this state again after ${ms} ms`);
    this.name = "ReQueueAfterSignal";
    this.delayMs = ms;
  }
}

function toMilliseconds(delay: number | Duration): number {
  let total: number;
  if (typeof delay === "number") {
    total = delay;
  } else if (typeof delay === "object" && delay !== null) {
    total = 0;
    for (const [unit, value] of Object.entries(delay)) {
      if (!Object.hasOwn(UNIT_MS, unit)) {
        throw new TypeError(
          `ReQueueAfterSignal delay has an unknown unit '${unit}'; use hours, minutes, seconds or milliseconds`,
        );
      }
      if (value === undefined) continue;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new RangeError(
          `ReQueueAfterSignal delay ${unit} must be a finite number, got ${String(value)}`,
        );
      }
      total += value * UNIT_MS[unit as keyof Duration];
    }
  } else {
    throw new TypeError(
      "ReQueueAfterSignal delay must be a number of milliseconds or { hours, minutes, seconds, milliseconds }",
    );
  }
  if (!Number.isFinite(total) || total <= 0) {
    throw new RangeError(`ReQueueAfterSignal delay must be positive and finite, got ${total} ms`);
  }
  const ms = Math.ceil(total);
  if (!Number.isSafeInteger(ms)) throw new RangeError(`ReQueueAfterSignal delay is too large: ${total} ms`);
  return ms;
}

export type Signal = PruneSignal | ReQueueAfterSignal;

/** Whether a thrown value is a signal from any copy of this SDK. */
export function isSignal(thrown: unknown): thrown is Signal {
  return typeof thrown === "object" && thrown !== null && (thrown as { [SIGNAL]?: unknown })[SIGNAL] === true;
}
