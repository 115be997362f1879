// The namespace actor's `meta` table: a few named values beside the real tables.
import { z } from "zod";
import { parseStored, StoredDataError } from "./stored";

export type MetaKey =
  /** The schema version the tables were last migrated to. */
  | "schema_version"
  /** The namespace this instance serves, once it was told (an actor does not know its own name). */
  | "namespace"
  /** Runs in the index, so a page's total needs no count(*). */
  | "run_count"
  /** Set once the namespace is listed in the directory. */
  | "listed_in_directory";

const MetaRow = z.object({ value: z.string() });

export class NamespaceMeta {
  constructor(private readonly sql: SqlStorage) {}

  /** Creates the table (idempotent); the migration calls it before anything reads a version. */
  create(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }

  get(key: MetaKey): string | undefined {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row === undefined ? undefined : parseStored(MetaRow, row, `meta ${key}`).value;
  }

  /** A counter or version: a missing value is 0. */
  number(key: MetaKey): number {
    const value = Number(this.get(key) ?? 0);
    if (!Number.isSafeInteger(value)) throw new StoredDataError(`meta ${key}`, "not an integer");
    return value;
  }

  set(key: MetaKey, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}
