// Packing ready states into queue messages and `sendBatch` calls within the platform's limits
// (a message ≤ 128 KB; a batch ≤ 100 messages and ≤ 256 KB).

import type { DispatchedState, DispatchMessage } from "../contracts/dispatch";
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES, utf8Length } from "../engine/limits";

/** `value`'s size as JSON in UTF-8 bytes. */
export const byteLength = (value: unknown): number => utf8Length(JSON.stringify(value) ?? "");

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
    const bytes = byteLength(state) + 1;
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
