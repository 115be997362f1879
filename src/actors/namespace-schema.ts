// The namespace actor's SQLite schema, created idempotently and upgraded in one place.
import { z } from "zod";
import { CronTrigger, Transport, ValidationStatus } from "../engine/model";
import { CRON_SCHEMA, type NamespaceCron } from "./namespace-cron";
import type { NamespaceMeta } from "./namespace-meta";
import { SEEN_SCHEMA } from "./namespace-seen";
import { STARTS_SCHEMA } from "./namespace-starts";
import { TRIGGER_KEYS_SCHEMA } from "./namespace-trigger-keys";
import { jsonText, parseStored } from "./stored";

const SCHEMA_VERSION = 6;

const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");

// The CHECK lists come from the same enums as the wire strings, so the two cannot drift apart.
const NAMESPACE_SCHEMA = `
CREATE TABLE IF NOT EXISTS registered_nodes (
  name TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  runtime_name TEXT NOT NULL,
  inputs_schema TEXT NOT NULL,
  outputs_schema TEXT NOT NULL,
  secrets TEXT NOT NULL,
  transport TEXT NOT NULL CHECK (transport IN (${sqlList(Transport.options)})),
  queue TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_templates (
  name TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  nodes TEXT NOT NULL,
  secrets TEXT NOT NULL,
  retry_policy TEXT NOT NULL,
  store_config TEXT NOT NULL,
  triggers TEXT NOT NULL,
  validation_status TEXT NOT NULL CHECK (validation_status IN (${sqlList(ValidationStatus.options)})),
  validation_errors TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  graph_name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_created_at ON runs (created_at DESC);
${CRON_SCHEMA}
${STARTS_SCHEMA}
${TRIGGER_KEYS_SCHEMA}
${SEEN_SCHEMA}`;

const ValidGraphTriggers = z.object({ name: z.string(), triggers: jsonText(z.array(CronTrigger)) });

/**
 * Creates or upgrades the schema. MUST run inside the constructor's `blockConcurrencyWhile`, which arms
 * the alarm afterwards. True when cron schedules were backfilled. Version 4 added the pending run starts
 * and the trigger idempotency keys, version 5 when each node was last served (new tables only), version 6
 * the queue of each push node.
 */
export function migrateNamespaceSchema(
  storage: DurableObjectStorage,
  meta: NamespaceMeta,
  cron: NamespaceCron,
): boolean {
  meta.create();
  const version = meta.number("schema_version");
  if (version >= SCHEMA_VERSION) return false;
  storage.transactionSync(() => {
    storage.sql.exec(NAMESPACE_SCHEMA);
    // Version 6: a push node names its runtime's queue. Older rows keep NULL: the engine's one queue of
    // before, which a trigger refuses until the runtime registers again (see namespace-runs.ts).
    if (version >= 1 && version < 6 && !hasColumn(storage.sql, "registered_nodes", "queue")) {
      storage.sql.exec("ALTER TABLE registered_nodes ADD COLUMN queue TEXT");
    }
    // Version 1 stored cron triggers but scheduled nothing: arm the VALID graphs' triggers now.
    if (version === 1) {
      const now = Date.now();
      for (const raw of storage.sql
        .exec("SELECT name, triggers FROM graph_templates WHERE validation_status = 'VALID'")
        .toArray()) {
        const g = parseStored(ValidGraphTriggers, raw, "graph template triggers");
        cron.reconcile(g.name, g.triggers, true, now);
      }
    }
    // Version 3 moved the directory to its own actor: an empty directory table (every namespace had
    // one) goes; the one instance whose table holds the list keeps it until DirectoryActor imports it.
    if (version < 3 && legacyDirectoryRows(storage.sql).length === 0) {
      storage.sql.exec("DROP TABLE IF EXISTS directory");
    }
    meta.set("schema_version", String(SCHEMA_VERSION));
  });
  return version === 1;
}

function hasColumn(sql: SqlStorage, table: string, column: string): boolean {
  return sql.exec("SELECT 1 FROM pragma_table_info(?) WHERE name = ?", table, column).toArray().length > 0;
}

const DirectoryRow = z.object({ namespace: z.string() });

/** The rows of the directory table of schema versions 1 and 2, if this instance still has it. */
export function legacyDirectoryRows(sql: SqlStorage): string[] {
  const exists = sql
    .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'directory'")
    .toArray();
  if (exists.length === 0) return [];
  return sql
    .exec("SELECT namespace FROM directory ORDER BY namespace")
    .toArray()
    .map((row) => parseStored(DirectoryRow, row, "legacy directory entry").namespace);
}
