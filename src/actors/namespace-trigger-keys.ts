// Idempotency keys of HTTP triggers (the `Idempotency-Key` header): the same key within
// IDEMPOTENCY_KEY_TTL_MS answers the run its first request started, and starts no other. A key is kept
// with a fingerprint of the request it came with, so a key reused for a different request is refused
// rather than answered with an unrelated run.
import { z } from "zod";
import { IDEMPOTENCY_KEY_TTL_MS, IDEMPOTENCY_KEYS_PURGED_PER_TRIGGER } from "../engine/limits";
import type { TriggerBody } from "../engine/template/request-schema";
import { jsonText, parseStored } from "./stored";

export const TRIGGER_KEYS_SCHEMA = `
CREATE TABLE IF NOT EXISTS trigger_keys (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  run_id TEXT NOT NULL,
  warnings TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trigger_keys_by_age ON trigger_keys (created_at);
`;

const KeyRow = z.object({
  fingerprint: z.string(),
  run_id: z.string(),
  warnings: jsonText(z.array(z.string())),
});

/** What the first request with a key was answered. */
export interface KeyedRun {
  fingerprint: string;
  run_id: string;
  warnings: string[];
}

export class TriggerKeys {
  constructor(private readonly sql: SqlStorage) {}

  /** The run a live key started, or undefined when the key is new or older than the TTL. */
  find(key: string, now: number): KeyedRun | undefined {
    const raw = this.sql
      .exec(
        "SELECT fingerprint, run_id, warnings FROM trigger_keys WHERE key = ? AND created_at > ?",
        key,
        now - IDEMPOTENCY_KEY_TTL_MS,
      )
      .toArray()[0];
    return raw === undefined ? undefined : parseStored(KeyRow, raw, "trigger idempotency key");
  }

  /**
   * Keeps `key` for the run it started (replacing an expired row of the same key) and drops a few
   * expired keys, so the table stays as large as a day of keyed triggers. MUST be called inside the
   * transaction that records the run.
   */
  add(key: string, run: KeyedRun, now: number): void {
    const expired = now - IDEMPOTENCY_KEY_TTL_MS;
    this.sql.exec(
      `DELETE FROM trigger_keys WHERE key IN
         (SELECT key FROM trigger_keys WHERE created_at <= ? ORDER BY created_at LIMIT ?)`,
      expired,
      IDEMPOTENCY_KEYS_PURGED_PER_TRIGGER,
    );
    this.sql.exec(
      "INSERT OR REPLACE INTO trigger_keys (key, fingerprint, run_id, warnings, created_at) VALUES (?, ?, ?, ?, ?)",
      key,
      run.fingerprint,
      run.run_id,
      JSON.stringify(run.warnings),
      now,
    );
  }

  /** Forgets the key of a run that will never start, so that a retry with it starts a new one. */
  forgetRun(runId: string): void {
    this.sql.exec("DELETE FROM trigger_keys WHERE run_id = ?", runId);
  }
}

/**
 * A digest of what a trigger asks for (graph and body, maps in key order), so that the same request sent
 * again matches whatever order its JSON had.
 */
export async function triggerFingerprint(graphName: string, body: TriggerBody): Promise<string> {
  const sorted = (m: Record<string, string>) =>
    Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify([graphName, sorted(body.store), sorted(body.inputs), body.start_delay]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
