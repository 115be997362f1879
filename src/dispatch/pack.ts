// Packing ready states into queue messages and `sendBatch` calls within the platform's limits
// (a message ≤ 128 KB; a batch ≤ 100 messages and ≤ 256 KB).

import type { DispatchedState, DispatchMessage } from "../contracts/dispatch";
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES, utf8Length } from "../engine/limits";

/** `value`'s size as JSON in UTF-8 bytes. */
export const byteLength = (value: unknown): number => utf8Length(JSON.stringify(value) ?? "");

/** Printable ASCII but `"` and `\`: such a string's JSON is itself in quotes, one byte per character. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** What JSON leaves out of an object (and writes as `null` in an array). */
const omitted = (v: unknown) => v === undefined || typeof v === "function" || typeof v === "symbol";

/**
 * `byteLength(value)` without writing the JSON, for the plain values a dispatched state is made of
 * (strings, numbers, booleans, null, objects and arrays of them): every dispatched state is measured, and
 * writing its JSON only to count it was a measurable share of a wide fan-out's dispatch. Anything else
 * (an escape or a non-ASCII character in a string, a value JSON writes differently) is measured by writing it.
 */
export function jsonBytes(value: unknown): number {
  if (typeof value === "string") return PLAIN.test(value) ? value.length + 2 : byteLength(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value).length;
  if (typeof value === "boolean") return value ? 4 : 5;
  if (value === null) return 4;
  if (typeof value !== "object" || "toJSON" in value) return byteLength(value);
  if (Array.isArray(value)) {
    let n = 1 + value.length;
    for (const item of value) n += omitted(item) ? 4 : jsonBytes(item); // JSON writes `null` for it
    return value.length === 0 ? 2 : n;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return byteLength(value);
  let n = 1;
  let entries = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const v = (value as Record<string, unknown>)[key];
    if (omitted(v)) continue;
    n += jsonBytes(key) + 1 + jsonBytes(v) + 1; // key, colon, value, and a comma or the closing brace
    entries += 1;
  }
  return entries === 0 ? 2 : n;
}

export interface PackOptions {
  /** Most states one message may carry (trades fewer messages for less parallelism per message). */
  statesPerMessage: number;
}

/** Groups one run's ready states into batches of messages, each batch one `sendBatch` call. */
export function packMessages(run: string, states: DispatchedState[], opts: PackOptions): DispatchMessage[][] {
  const batches: DispatchMessage[][] = [];
  let batch: DispatchMessage[] = [];
  let batchBytes = 0;
  let current: DispatchedState[] = [];
  let currentBytes = 0;
  const overhead = byteLength({ v: 1, run, states: [] });

  const closeMessage = () => {
    if (current.length === 0) return;
    const bytes = overhead + currentBytes;
    if (batch.length >= MAX_BATCH_MESSAGES || batchBytes + bytes > MAX_BATCH_BYTES) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push({ v: 1, run, states: current });
    batchBytes += bytes;
    current = [];
    currentBytes = 0;
  };

  for (const state of states) {
    const bytes = jsonBytes(state) + 1;
    if (
      current.length >= opts.statesPerMessage ||
      overhead + currentBytes + bytes > Math.min(MAX_MESSAGE_BYTES, MAX_BATCH_BYTES / 4)
    ) {
      closeMessage();
    }
    current.push(state);
    currentBytes += bytes;
  }
  closeMessage();
  if (batch.length > 0) batches.push(batch);
  return batches;
}
