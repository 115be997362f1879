// When a runtime last served each registered node: a pull runtime's poll for it, or a push consumer's
// batch of its states. Written at most every few seconds per node (the callers throttle), read when a run
// waits, so that a client can tell a node nobody serves from one that is merely slow.
import { isoNaive } from "../engine/time";

export const SEEN_SCHEMA = `
CREATE TABLE IF NOT EXISTS node_seen (name TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;`;

export class NodesSeen {
  constructor(private readonly sql: SqlStorage) {}

  /** Records that the registered nodes among `names` were served at `now` (unregistered names are ignored). */
  record(names: readonly string[], now: number): void {
    this.sql.exec(
      `INSERT INTO node_seen (name, at)
         SELECT name, ? FROM registered_nodes WHERE name IN (SELECT value FROM json_each(?))
       ON CONFLICT (name) DO UPDATE SET at = excluded.at`,
      now,
      JSON.stringify([...new Set(names)]),
    );
  }

  /** Who serves each of `names` and when it last did; a name that is not registered is absent. */
  serving(names: readonly string[]): Map<string, NodeServing> {
    const out = new Map<string, NodeServing>();
    const rows = this.sql.exec<{ name: string; runtime_name: string; transport: string; at: number | null }>(
      `SELECT r.name AS name, r.runtime_name AS runtime_name, r.transport AS transport, s.at AS at
         FROM registered_nodes r LEFT JOIN node_seen s ON s.name = r.name
        WHERE r.name IN (SELECT value FROM json_each(?))`,
      JSON.stringify([...new Set(names)]),
    );
    for (const r of rows) {
      out.set(r.name, {
        runtime_name: r.runtime_name,
        transport: r.transport,
        last_seen_at: r.at === null ? null : isoNaive(r.at),
      });
    }
    return out;
  }
}

/** Who serves a node: its registered runtime, and when a runtime last polled or ran it (null: never). */
export interface NodeServing {
  runtime_name: string;
  transport: string;
  last_seen_at: string | null;
}
