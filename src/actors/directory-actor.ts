// The directory: one Durable Object (`env.DIRECTORY.getByName(DIRECTORY_NAME)`) listing the namespaces
// that registered nodes, for `GET /v0/namespaces`. A namespace actor adds its namespace once, on its first
// registration; nothing on a hot path ever calls it.
//
// Before this class existed the list lived in a `directory` table of the namespace actor named
// LEGACY_DIRECTORY_NAME. The first call to a directory imports that list (once; the namespace actor then
// drops the table), so an upgraded deployment keeps listing the namespaces it had.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { parseStored } from "./stored";

/** The one directory instance the API and the namespace actors use. */
export const DIRECTORY_NAME = "directory";

/** The namespace actor instance that held the directory before DirectoryActor. */
export const LEGACY_DIRECTORY_NAME = "__directory__";

export function directoryStub(env: Env): DurableObjectStub<DirectoryActor> {
  return env.DIRECTORY.getByName(DIRECTORY_NAME);
}

const SCHEMA_VERSION = 1;
const NamespaceRow = z.object({ namespace: z.string() });
const MetaRow = z.object({ value: z.string() });

export class DirectoryActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The legacy import, once per instance; reset after a failure so the next call tries again. */
  private imported: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    if (Number(this.meta("schema_version") ?? 0) >= SCHEMA_VERSION) return;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("CREATE TABLE IF NOT EXISTS namespaces (namespace TEXT PRIMARY KEY) WITHOUT ROWID");
      this.setMeta("schema_version", String(SCHEMA_VERSION));
    });
  }

  /** Lists `namespace` (idempotent). */
  async add(namespace: string): Promise<void> {
    await this.importLegacy();
    this.sql.exec("INSERT OR IGNORE INTO namespaces (namespace) VALUES (?)", namespace);
  }

  /** Namespaces that registered nodes, in code-point order (SQLite's binary collation on UTF-8). */
  async list(): Promise<string[]> {
    await this.importLegacy();
    return this.sql
      .exec("SELECT namespace FROM namespaces WHERE namespace != '' ORDER BY namespace")
      .toArray()
      .map((row) => parseStored(NamespaceRow, row, "directory entry").namespace);
  }

  private importLegacy(): Promise<void> {
    this.imported ??= this.doImportLegacy().catch((e) => {
      this.imported = null;
      throw e;
    });
    return this.imported;
  }

  private async doImportLegacy(): Promise<void> {
    if (this.meta("legacy_imported") !== undefined) return;
    const legacy = this.env.NAMESPACE.getByName(LEGACY_DIRECTORY_NAME);
    const namespaces = await legacy.legacyDirectory();
    this.ctx.storage.transactionSync(() => {
      for (const namespace of namespaces) {
        this.sql.exec("INSERT OR IGNORE INTO namespaces (namespace) VALUES (?)", namespace);
      }
      this.setMeta("legacy_imported", "1");
    });
    // The import is committed; dropping the old table is tidying, and a failure leaves it harmless.
    if (namespaces.length > 0) {
      await legacy
        .dropLegacyDirectory()
        .catch((e) =>
          console.error("dropping the legacy directory table failed", e instanceof Error ? e.message : e),
        );
    }
  }

  private meta(key: string): string | undefined {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row === undefined ? undefined : parseStored(MetaRow, row, `directory meta ${key}`).value;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}
